#!/usr/bin/env bash
# The whole test suite, from a fresh machine with only Python 3.10+:
#   scripts/test.sh [PYTEST ARGS...]
# Installs Debian's chromium and chromedriver when missing (the page tests drive them by
# path; nothing downloads a browser of its own), makes .venv in the checkout if missing,
# installs the package with its test and dev dependencies (moto's server included; the
# suite starts it on a free loopback port itself), then runs pytest on two workers.
# Exits with pytest's status.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    as_root=()
    [ "$(id -u)" -eq 0 ] || as_root=(sudo -n)
    if command -v apt-get >/dev/null 2>&1; then
        echo "test.sh: installing chromium and chromium-driver (apt-get)" >&2
        { "${as_root[@]}" apt-get update -q &&
            DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q \
                chromium chromium-driver; } >/tmp/versioned-chromium.log 2>&1 ||
            echo "test.sh: installing chromium failed (see /tmp/versioned-chromium.log);" \
                "the page tests will say so" >&2
    fi
fi
if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
exec .venv/bin/python -m pytest -n 2 "$@"
