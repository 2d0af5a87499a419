#!/usr/bin/env bash
# breachline against DuckDB on the same 1M-row Purview audit CSV, in the same run: the wall time
# and peak memory (GNU time %e %M) of `breachline analyze FILE --out DIR` (the whole pipeline and
# case folder) and of DuckDB reading the CSV, extracting one AuditData field and grouping by it
# (the least an ad-hoc query does). Prints both medians, the ratio and both peak RSS. Numbers go
# in BENCHMARKS.md ("breachline against DuckDB").
#
#   benches/duckdb.sh [DATA_DIR] [RUNS] [FIELD]   defaults: /tmp/breachline-synth, 3, ClientIP
#   BUDGET=256M benches/duckdb.sh ...            also times the partitioned path (--memory-budget)
#
# Generates DATA_DIR/ual_purview_export.csv once (benches/generate.rs, as benches/run.sh does)
# and installs DuckDB's Python package with pip when it is missing; without Python or pip, or
# when the install fails, it times breachline only and says why DuckDB was skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-/tmp/breachline-synth}"
runs="${2:-3}"
field="${3:-ClientIP}"
case "$field" in *[!A-Za-z0-9_]*) echo "FIELD must be an AuditData key such as ClientIP or Operation" >&2; exit 2 ;; esac
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet --bin breachline --example generate
bin="$CARGO_TARGET_DIR/release/breachline"
csv="$data/ual_purview_export.csv"
if [ ! -f "$csv" ]; then
  "$CARGO_TARGET_DIR/release/examples/generate" synthetic "$data"
fi
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time: apt-get install time)" >&2; exit 1; }

duckdb_ok=""
py="$(command -v python3 || true)"
if [ -z "$py" ]; then
  duckdb_why="python3 not found"
elif "$py" -c 'import duckdb' 2>/dev/null; then
  duckdb_ok=1
elif "$py" -m pip install --quiet duckdb >/dev/null 2>&1 && "$py" -c 'import duckdb' 2>/dev/null; then
  duckdb_ok=1
else
  duckdb_why="pip could not install the duckdb package (offline, or no pip for $py)"
fi

query="$(mktemp --suffix=.py)"
timing="$(mktemp)"
case_dir="$(mktemp -d)"
trap 'rm -rf "$query" "$timing" "$case_dir"' EXIT
cat >"$query" <<'PY'
import sys, duckdb
path, field = sys.argv[1], sys.argv[2]
con = duckdb.connect()
sql = (
    "SELECT json_extract_string(AuditData, '$." + field + "') AS v, count(*) AS n "
    "FROM read_csv('" + path.replace("'", "''") + "', all_varchar = true) GROUP BY v ORDER BY n DESC, v"
)
rows = con.execute(sql).fetchall()
print(f"duckdb {duckdb.__version__}: {len(rows)} distinct {field}, {sum(n for _, n in rows)} rows", file=sys.stderr)
PY

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# time_runs CMD...: runs CMD $runs times, sets $wall (s) and $mem (KB) to the medians.
time_runs() {
  local walls=() mems=() out
  for _ in $(seq "$runs"); do
    /usr/bin/time -o "$timing" -f "%e %M" "$@" >/dev/null 2>&1
    out=$(tail -1 "$timing")
    walls+=("${out% *}"); mems+=("${out#* }")
  done
  wall=$(printf '%s\n' "${walls[@]}" | median)
  mem=$(printf '%s\n' "${mems[@]}" | median)
}

echo "input: $csv ($(du -m "$csv" | cut -f1) MB), $runs runs each, medians" >&2
time_runs "$bin" --quiet analyze "$csv" --out "$case_dir/case"
bl_wall=$wall bl_mem=$mem
if [ -n "${BUDGET:-}" ]; then
  time_runs "$bin" --quiet analyze "$csv" --out "$case_dir/case" --memory-budget "$BUDGET"
  bp_wall=$wall bp_mem=$mem
fi
if [ -n "$duckdb_ok" ]; then
  "$py" "$query" "$csv" "$field" 2>&1 >/dev/null | head -1 >&2
  time_runs "$py" "$query" "$csv" "$field"
  dk_wall=$wall dk_mem=$mem
fi
echo "| command | median wall | median peak RSS |"
echo "|---|---|---|"
awk -v w="$bl_wall" -v m="$bl_mem" 'BEGIN { printf "| breachline analyze --out (whole pipeline, case folder) | %.2f s | %.0f MB |\n", w, m/1024 }'
if [ -n "${BUDGET:-}" ]; then
  awk -v b="$BUDGET" -v w="$bp_wall" -v m="$bp_mem" 'BEGIN { printf "| breachline analyze --out --memory-budget %s (partitioned) | %.2f s | %.0f MB |\n", b, w, m/1024 }'
fi
if [ -n "$duckdb_ok" ]; then
  awk -v f="$field" -v w="$dk_wall" -v m="$dk_mem" 'BEGIN { printf "| DuckDB read_csv + json_extract_string(AuditData, %s) + group by | %.2f s | %.0f MB |\n", f, w, m/1024 }'
  awk -v a="$bl_wall" -v b="$dk_wall" 'BEGIN { printf "\nbreachline / DuckDB wall time: %.2fx\n", a/b }'
else
  echo
  echo "DuckDB SKIPPED: $duckdb_why"
fi
