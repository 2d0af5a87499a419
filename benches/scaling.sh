#!/usr/bin/env bash
# Scaling curve: `breachline analyze FILE --out DIR` on nested prefixes of one generated Purview
# audit CSV (by default 0.25, 0.5, 1, 2 and 4 million rows), then the same analysis from the
# case's own timeline.parquet. Prints, per size: input MB, wall time and peak RSS (GNU time),
# MB/s, peak RSS as a share of the input, and the re-analysis time and speed-up. Numbers go in
# BENCHMARKS.md ("Scaling").
#
#   benches/scaling.sh [DATA_DIR] [ROWS...]
#   benches/scaling.sh /tmp/breachline-scaling 250000 500000 1000000 2000000 4000000
#   BUDGET=256M benches/scaling.sh ...    the partitioned path: analyze --memory-budget 256M
#
# Generates DATA_DIR/full/ual_purview_export.csv once with the largest row count
# (benches/generate.rs, audit rows only); each smaller size is its first N rows, so every set is a
# prefix of the next (the largest is the generated file itself). One run per size: the large ones take minutes. A run that fails (the kernel
# kills it when memory runs out) is reported with its exit status and the curve goes on.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-/tmp/breachline-scaling}"
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(250000 500000 1000000 2000000 4000000)
for n in "${sizes[@]}"; do
  case "$n" in ''|*[!0-9]*) echo "ROWS must be row counts, got $n" >&2; exit 2 ;; esac
done
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time: apt-get install time)" >&2; exit 1; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet --bin breachline --example generate
bin="$CARGO_TARGET_DIR/release/breachline"
budget=()
[ -z "${BUDGET:-}" ] || budget=(--memory-budget "$BUDGET")

largest=$(printf '%s\n' "${sizes[@]}" | sort -n | tail -1)
full="$data/full/ual_purview_export.csv"
if [ ! -f "$full" ] || [ "$(cat "$data/full/rows" 2>/dev/null || echo 0)" -lt "$largest" ]; then
  rm -rf "$data/full"
  mkdir -p "$data/full"
  "$CARGO_TARGET_DIR/release/examples/generate" synthetic "$data/full" \
    --audit-rows "$largest" --signin-rows 0 --trace-rows 0 >&2
  rm -f "$data/full"/InteractiveSignIns_* "$data/full"/graph_noninteractive_* "$data/full"/MessageTrace*
  echo "$largest" >"$data/full/rows"
fi

timing="$(mktemp)"
trap 'rm -f "$timing"' EXIT
# run OUT CMD...: one run; sets $wall (s), $mem (KB) and $status.
run() {
  status=0
  /usr/bin/time -o "$timing" -f "%e %M" "$@" >/dev/null 2>&1 || status=$?
  local out; out=$(tail -1 "$timing")
  wall="${out% *}" mem="${out#* }"
}

echo "| rows | input | analyze --out | peak RSS | RSS / input | MB/s | from timeline.parquet | speed-up |"
echo "|---|---|---|---|---|---|---|---|"
for n in $(printf '%s\n' "${sizes[@]}" | sort -n); do
  dir="$data/rows-$n"
  csv="$dir/ual_purview_export.csv"
  if [ "$n" -eq "$(cat "$data/full/rows")" ]; then
    mkdir -p "$dir"
    csv="$full"
  elif [ ! -f "$csv" ]; then
    mkdir -p "$dir"
    head -n $((n + 1)) "$full" >"$csv"
  fi
  case_dir="$dir.case"
  rm -rf "$case_dir" "$dir.again"
  bytes=$(stat -c %s "$csv")
  run "$bin" --quiet analyze "$csv" --out "$case_dir" "${budget[@]}"
  if [ "$status" -ne 0 ] && [ "$status" -ne 4 ]; then
    awk -v n="$n" -v b="$bytes" -v s="$status" -v w="$wall" -v m="$mem" 'BEGIN {
      printf "| %d | %.0f MB | failed (exit %d) after %.1f s | %.0f MB | | | | |\n", n, b/1e6, s, w, m/1024 }'
    continue
  fi
  a_wall=$wall a_mem=$mem
  run "$bin" --quiet analyze "$case_dir/timeline.parquet" --out "$dir.again" "${budget[@]}"
  r_wall=$wall
  [ "$status" -eq 0 ] || [ "$status" -eq 4 ] || r_wall="failed"
  awk -v n="$n" -v b="$bytes" -v w="$a_wall" -v m="$a_mem" -v r="$r_wall" 'BEGIN {
    printf "| %d | %.0f MB | %.1f s | %.0f MB | %.2f | %.0f | %s s | %s |\n", n, b/1e6, w, m/1024,
      m*1024/b, b/1e6/w, r, (r == "failed" ? "" : sprintf("%.1fx", w/r)) }'
  rm -rf "$dir.again"
done
