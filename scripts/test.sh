#!/usr/bin/env bash
# The test command: installs what the tests need, then builds and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export LOCKTOP_VENV_ROOT="${LOCKTOP_VENV_ROOT:-$HOME/.cache/locktop/venvs}"
swift build --build-tests
swift test --skip-build --disable-swift-testing
