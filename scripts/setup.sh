#!/usr/bin/env bash
# Installs what locktop and its tests need, idempotently: ncurses headers and tmux from apt,
# and one Python venv per Prefect version from PyPI, for the interop tests and benchmarks.
# With --no-prefect, only the system packages that building and running locktop need.
set -euo pipefail

with_prefect=1
[ "${1:-}" = "--no-prefect" ] && with_prefect=0

venv_root="${LOCKTOP_VENV_ROOT:-$HOME/.cache/locktop/venvs}"

need_apt=()
dpkg -s libncurses-dev >/dev/null 2>&1 || need_apt+=(libncurses-dev)
# OpenSSL, for rediss:// (TLS to Redis).
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
# libcurl, which the static build of FoundationNetworking (under `locktop serve`'s FlyingFox) links.
dpkg -s libcurl4-openssl-dev >/dev/null 2>&1 || need_apt+=(libcurl4-openssl-dev)
# SQLite, for the journal of --record.
dpkg -s libsqlite3-dev >/dev/null 2>&1 || need_apt+=(libsqlite3-dev)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-venv)
# bindfs mounts a records directory through FUSE for the shared-filesystem tests; redis-server
# runs the private servers of the Redis tests.
[ "$with_prefect" = 1 ] && ! command -v bindfs >/dev/null 2>&1 && need_apt+=(bindfs)
[ "$with_prefect" = 1 ] && ! command -v redis-server >/dev/null 2>&1 && need_apt+=(redis-server)
# prometheus and promtool scrape and check `locktop serve` in its tests.
[ "$with_prefect" = 1 ] && ! command -v promtool >/dev/null 2>&1 && need_apt+=(prometheus)
# rsvg-convert renders report --svg's timeline to PNG in its test.
[ "$with_prefect" = 1 ] && ! command -v rsvg-convert >/dev/null 2>&1 && need_apt+=(librsvg2-bin)
# libfaketime jumps locktop's wall clock in the soak (scripts/soak.sh).
[ "$with_prefect" = 1 ] && [ ! -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] && ! command -v faketime >/dev/null 2>&1 && need_apt+=(faketime)
# openssl makes the test CA of the TLS tests.
[ "$with_prefect" = 1 ] && ! command -v openssl >/dev/null 2>&1 && need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}"
fi

make_venv() {
    local version="$1"; shift
    local dir="$venv_root/prefect-$version"
    if "$dir/bin/python" -c "import prefect, sys; sys.exit(prefect.__version__ != '$version')" >/dev/null 2>&1; then
        return
    fi
    rm -rf "$dir"
    mkdir -p "$venv_root"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "prefect==$version" "$@"
    "$dir/bin/python" -c "import prefect; print('prefect', prefect.__version__, 'ready in $dir')"
}

if [ "$with_prefect" = 1 ]; then
    make_venv 3.9.1 &
    first=$!
    make_venv 3.0.0 "pydantic==2.8.2" &
    second=$!
    wait "$first"
    wait "$second"
    # prefect-redis, for the Redis interop tests: the version measured in issue 9.
    "$venv_root/prefect-3.9.1/bin/python" -c "import prefect_redis" >/dev/null 2>&1 \
        || "$venv_root/prefect-3.9.1/bin/pip" install --quiet --disable-pip-version-check "prefect-redis==0.3.0"
    # pytest, for the helper's own tests (integrations/prefect/tests).
    "$venv_root/prefect-3.9.1/bin/python" -c "import pytest" >/dev/null 2>&1 \
        || "$venv_root/prefect-3.9.1/bin/pip" install --quiet --disable-pip-version-check "pytest"
    # locktop's Prefect helper, from this checkout, for its interop tests.
    "$venv_root/prefect-3.9.1/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall \
        "$(dirname "$0")/../integrations/prefect"
fi
