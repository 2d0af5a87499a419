#!/usr/bin/env bash
# Ingest and analyze benchmark: generates the synthetic evidence set once (benches/generate.rs), then times
# `breachline inspect` on each file and on the whole set, several runs each, and prints medians of
# wall time and peak memory (GNU time). Numbers go in BENCHMARKS.md.
#
#   benches/run.sh [DATA_DIR] [RUNS]      default DATA_DIR=/tmp/breachline-synth, RUNS=5
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-/tmp/breachline-synth}"
runs="${2:-5}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet --bin breachline --example generate
bin="$CARGO_TARGET_DIR/release/breachline"
if [ ! -f "$data/ual_purview_export.csv" ]; then
  "$CARGO_TARGET_DIR/release/examples/generate" synthetic "$data"
fi
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
bench() {
  local name="$1"; shift
  local bytes; bytes=$(du -cb "$@" | tail -1 | cut -f1)
  local walls=() mems=()
  for _ in $(seq "$runs"); do
    local out; out=$( { /usr/bin/time -f "%e %M" "$bin" --quiet inspect --json "$@" >/dev/null; } 2>&1 | tail -1)
    walls+=("${out% *}"); mems+=("${out#* }")
  done
  local wall mem
  wall=$(printf '%s\n' "${walls[@]}" | median)
  mem=$(printf '%s\n' "${mems[@]}" | median)
  awk -v n="$name" -v b="$bytes" -v w="$wall" -v m="$mem" 'BEGIN {
    printf "| %s | %.0f MB | %.2f s | %.0f MB/s | %.0f MB |\n", n, b/1e6, w, b/1e6/w, m/1024 }'
}
echo "| input | size | median wall | throughput | median peak RSS |"
echo "|---|---|---|---|---|"
bench "audit CSV (Purview portal)" "$data/ual_purview_export.csv"
bench "interactive sign-ins (portal CSV)" "$data/InteractiveSignIns_synthetic.csv"
bench "non-interactive sign-ins (Graph JSONL)" "$data/graph_noninteractive_synthetic.jsonl"
bench "message trace (V2 CSV)" "$data/MessageTraceV2_synthetic.csv"
bench "whole set" "$data"

# The whole pipeline (ingest, enrich, rules, impact, case folder with a 2 GB timeline.csv).
echo
echo "| analyze --out (whole set) | median wall | median peak RSS |"
echo "|---|---|---|"
case_dir="$(mktemp -d)"
walls=() mems=()
for _ in $(seq "$runs"); do
  out=$( { /usr/bin/time -f "%e %M" "$bin" --quiet analyze "$data" --out "$case_dir" >/dev/null; } 2>&1 | tail -1)
  walls+=("${out% *}"); mems+=("${out#* }")
done
rm -rf "$case_dir"
wall=$(printf '%s\n' "${walls[@]}" | median)
mem=$(printf '%s\n' "${mems[@]}" | median)
awk -v w="$wall" -v m="$mem" 'BEGIN { printf "| %d events | %.2f s | %.0f MB |\n", 0, w, m/1024 }' | sed 's/| 0 events/| 2.2M events/'
