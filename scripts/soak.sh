#!/usr/bin/env bash
# A seeded soak under faults (Tests/Soak): real Prefect and locktop workers, locktop's watchers,
# an operator bot, and every fault kind from a schedule drawn from the seed; then the checker.
#   bash scripts/soak.sh --minutes N --seed S [--report FILE] [--sabotage]
#   bash scripts/soak.sh --load [--seconds 60]
# Runs as root, after scripts/setup.sh and a build; fails on any violation, printing the seed.
set -euo pipefail
cd "$(dirname "$0")/.."
export LOCKTOP_VENV_ROOT="${LOCKTOP_VENV_ROOT:-$HOME/.cache/locktop/venvs}"
locktop="${LOCKTOP_SOAK_EXECUTABLE:-$(swift build --show-bin-path)/locktop}"
[ -x "$locktop" ] || { echo "soak: build locktop first ($locktop is missing)" >&2; exit 2; }
if [ "${1:-}" = "--load" ]; then
    # The load run: 8 processes, 100 keys, about 1,000 lock changes a second, with and without an
    # inotify overflow; exits 1 on a missed acquisition that lived over 100 ms, no rescan after the
    # overflow, an end unlike the directory, or a key press over 50 ms at p99.
    shift
    exec python3 Tests/Soak/load.py --locktop "$locktop" "$@"
fi
exec python3 Tests/Soak/soak.py --locktop "$locktop" --venvs "$LOCKTOP_VENV_ROOT" "$@"
