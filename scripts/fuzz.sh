#!/usr/bin/env bash
# Fuzzes the parsers of untrusted bytes with libFuzzer and AddressSanitizer:
#   bash scripts/fuzz.sh TARGET SECONDS     (TARGET: lock-json timestamp audit-line resp identities host-report first-seen, or all)
# Each target is built with swiftc -sanitize=fuzzer,address from the sources of the modules it
# needs, compiled as one module (their imports of each other dropped), and run for SECONDS.
# A crash fails the script and leaves its input in the work directory it names.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-all}"
seconds="${2:-30}"
root="$(pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/locktop-fuzz-XXXXXX")"

# The modules each target is built from, and the fuzz entry that drives it.
modules_for() {
    case "$1" in
        lock-json) echo "RecordStore LockJSON" ;;
        timestamp) echo "RecordStore Timestamp" ;;
        audit-line) echo "RecordStore AuditLine" ;;
        resp) echo "RedisStore RESP" ;;
        identities) echo "RecordStore LockMonitor IdentityFile" ;;
        host-report) echo "RecordStore LockMonitor HostReport" ;;
        first-seen) echo "RecordStore LockMonitor RedisStore RedisMonitor FirstSeen" ;;
        *) echo "unknown fuzz target $1" >&2; exit 64 ;;
    esac
}

cat > "$work/module.modulemap" <<MAP
module CLocktopSystem {
    header "$root/Sources/CLocktopSystem/include/CLocktopSystem.h"
    export *
}
module CLocktopTLS {
    header "$root/Sources/CLocktopTLS/include/locktop_tls.h"
    link "ssl"
    link "crypto"
    export *
}
MAP
# swift-system (SystemPackage) comes prebuilt from the package's debug build, uninstrumented: it
# is the syscall layer under the parsers, not a parser.
swift build --target SystemPackage > "$work/system-package.log" 2>&1 || { cat "$work/system-package.log"; exit 1; }
bin="$(swift build --show-bin-path)"
system_package=(-I "$bin/Modules" -Xcc -fmodule-map-file="$root/.build/checkouts/swift-system/Sources/CSystem/include/module.modulemap")
system_objects=("$bin"/SystemPackage.build/*.o "$bin"/CSystem.build/*.o)
clang -c -fsanitize=address,fuzzer-no-link -I "$root/Sources/CLocktopSystem/include" \
    "$root/Sources/CLocktopSystem/system.c" -o "$work/system.o"
clang -c -fsanitize=address,fuzzer-no-link -I "$root/Sources/CLocktopTLS/include" \
    "$root/Sources/CLocktopTLS/tls.c" -o "$work/tls.o"

run_target() {
    local name="$1"
    local parts=($(modules_for "$name"))
    local entry="${parts[-1]}"
    unset 'parts[-1]'
    local sources="$work/$name/sources"
    mkdir -p "$sources" "$work/$name/corpus"
    for module in "${parts[@]}"; do
        for file in "$root/Sources/$module"/*.swift; do
            # One module: the imports of the others go.
            grep -v -E '^(@testable )?import (RecordStore|LockMonitor|RedisStore|RedisMonitor)$' "$file" \
                > "$sources/$module-$(basename "$file")"
        done
    done
    cp "$root/Tests/Fuzz/$entry.swift" "$sources/FuzzEntry.swift"
    swiftc -sanitize=fuzzer,address -parse-as-library -module-name "Fuzz${entry}" \
        -Xcc -fmodule-map-file="$work/module.modulemap" "${system_package[@]}" "$sources"/*.swift \
        "$work/system.o" "$work/tls.o" "${system_objects[@]}" -lssl -lcrypto -o "$work/$name/fuzz" 2>&1 \
        | grep -v "Cannot export" || true
    (cd "$work/$name" && ./fuzz -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 corpus \
        > log 2>&1) || { tail -30 "$work/$name/log"; echo "fuzz $name: CRASH (inputs in $work/$name)"; exit 1; }
    local runs
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name/log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz $name: $runs inputs in ${seconds}s, no crash"
}

if [ "$target" = all ]; then
    for name in lock-json timestamp audit-line resp identities host-report first-seen; do run_target "$name"; done
else
    run_target "$target"
fi
rm -rf "$work"
