#!/usr/bin/env bash
# The test command: installs what the tests need, then builds and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export LOCKTOP_VENV_ROOT="${LOCKTOP_VENV_ROOT:-$HOME/.cache/locktop/venvs}"
# Tests never write the operator's audit log: every process they start logs into a temporary state home.
XDG_STATE_HOME="$(mktemp -d "${TMPDIR:-/tmp}/locktop-test-state-XXXXXX")"
export XDG_STATE_HOME
trap 'rm -rf "$XDG_STATE_HOME"' EXIT
swift build --build-tests
# The recorded-minute test times a release locktop against the workers' own logs, to 5 ms: a debug
# build's watch falls tens of milliseconds behind six busy workers on two cores.
swift build -c release --product locktop
LOCKTOP_RELEASE_EXECUTABLE="$(swift build -c release --show-bin-path)/locktop"
export LOCKTOP_RELEASE_EXECUTABLE
swift test --skip-build --disable-swift-testing
# The Prefect helper's own tests, against Prefect 3.9.1, prefect-redis and a private redis-server.
"$LOCKTOP_VENV_ROOT/prefect-3.9.1/bin/python" -m pytest -q -p no:cacheprovider integrations/prefect/tests
# A 2-minute seeded soak under every fault kind (as root: fanotify, a tmpfs to fill, kill -9 of
# anything); it prints its seed, and fails on any violation its checker finds.
if [ "$(id -u)" -eq 0 ]; then
    bash scripts/soak.sh --minutes 2 --seed "${LOCKTOP_SOAK_SEED:-1203}"
else
    echo "soak: skipped (it runs as root)"
fi
