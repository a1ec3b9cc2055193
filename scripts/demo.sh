#!/usr/bin/env bash
# The versioned lifecycle, with the command line, on the embedded local repository
# (./.versioned in a fresh temporary folder, removed afterwards).
#
#   scripts/demo.sh            # needs only Python 3.10+; PYTHON=python3.11 to choose one
#
# Makes .venv in the checkout if missing and installs the package there (pip install -e .),
# then echoes each command before running it. Exits non-zero if any step fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -x "$root/.venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$root/.venv"
fi
"$root/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root"
export PATH="$root/.venv/bin:$PATH"
unset VERSIONED_REPO

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

# run COMMAND: show it as typed, then run it (redirections and loops included)
run() {
    printf '\n$ %s\n' "$1"
    eval "$1"
}

run 'versioned init'
run 'printf "weights v1\n" > model.bin'
run 'versioned put model model.bin --metadata git_sha=1a2b3c'
run 'versioned publish model'
run 'printf "weights v2\n" > model.bin'
run 'versioned put model model.bin --metadata git_sha=4d5e6f'
run 'versioned publish model'
run 'versioned alias set model prod --version 1 --reason "first release"'
run 'versioned alias set model prod --version 1 --secondary-version 2 --weight 20 --if-revision 1 --reason "canary 2"'
run 'versioned alias get model prod'
run 'versioned get model --alias prod --key user-42'
run 'versioned alias history model prod'
run 'versioned alias rollback model prod --reason "errors on the canary"'
run 'versioned alias history model prod --verify'
run 'versioned alias set model prod --version 1 --secondary-version 2 --weight 20 --reason "canary 2, again"'
run 'versioned versions model'
run 'for v in 3 4; do printf "weights v$v\n" | versioned --quiet put model - >/dev/null; versioned publish model; done'
run 'versioned purge model --keep-last 1 --older-than 0 --yes'
run 'versioned --json versions model | grep "\"version\""'
printf '\nversions 1 and 2 stay (prod points at them), 4 is the newest, LATEST always stays.\n'

# a progressive rollout of 4 on a second alias: steps, a check after each, then promoted
run 'versioned alias set model staging --version 1 --reason "stable"'
run 'versioned rollout start model staging --version 4 --steps 25,50,100 --check "test \"\$VERSIONED_ROLLOUT_WEIGHT\" -le 50" --reason "ship 4"'
run 'versioned rollout run model staging'
run 'versioned rollout status model staging'
