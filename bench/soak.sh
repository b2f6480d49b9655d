#!/usr/bin/env bash
# Soak: STEPS headless full-batch steps on a small generated dataset (20 documents), sampling the
# process's resident memory every SECONDS seconds. Prints "elapsed_s steps_done rss_mb" lines,
# then the first and last sample after warm-up.
#   bench/soak.sh [STEPS=100000] [SECONDS=10]
# Needs a built release binary (cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-100000}
every=${2:-10}
bin=${SEGSCOPE:-target/release/segscope}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin" gen-data --docs 20 --out "$dir/small.jsonl"
"$bin" --headless --data "$dir/small.jsonl" --steps "$steps" --early-stop 0 --keep last \
    --out "$dir/lines.jsonl" &
pid=$!
start=$(date +%s)
while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    done_steps=$(wc -l 2>/dev/null < "$dir/lines.jsonl" || echo 0)
    echo "$(( $(date +%s) - start )) $done_steps $(awk -v k="$rss" 'BEGIN{printf "%.1f", k/1024}')"
    sleep "$every"
done | tee "$dir/samples.txt"
wait "$pid"
echo "steps written: $(grep -c '"step"' "$dir/lines.jsonl")"
# Warm-up: the first minute.
awk '$1 >= 60 {if (!f) {first=$0; f=1}; last=$0; if ($3>max) max=$3; if (min==""||$3<min) min=$3}
     END {print "after warm-up: first " first " / last " last " / min " min " MB / max " max " MB"}' \
    "$dir/samples.txt"
