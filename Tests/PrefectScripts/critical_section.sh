#!/bin/sh
# A critical section for contention tests, run under `locktop lock`. It creates WORK/inside with
# O_EXCL (noclobber); finding it already there means another holder is inside: an overlap,
# recorded in WORK/overlaps. It then increments WORK/counter by read, pause, write.
work="$1"
set -C
if : > "$work/inside" 2>/dev/null; then alone=1; else alone=0; echo overlap >> "$work/overlaps"; fi
set +C
current=$(cat "$work/counter" 2>/dev/null || echo 0)
[ -n "$current" ] || current=0
sleep 0.001
echo $((current + 1)) > "$work/counter"
[ "$alone" = 1 ] && rm -f "$work/inside"
exit 0
