#!/usr/bin/env bash
# The whole test suite, from a fresh machine with only Python 3.10+:
#   scripts/test.sh [PYTEST ARGS...]
# Makes .venv in the checkout if missing, installs the package with its test and dev
# dependencies (moto's server included; the suite starts it on a free loopback port
# itself), then runs pytest on two workers. Exits with pytest's status.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
exec .venv/bin/python -m pytest -n 2 "$@"
