#!/usr/bin/env bash
# Rule-evaluation benchmark: runs `breachline analyze` with BREACHLINE_TIMING=1 over the
# synthetic set (written once by benches/generate.rs, as benches/run.sh does) and prints the
# detect stage's own timing line of each run: wall and CPU seconds, events per second, and the
# two passes (conditions over every event; windows, sequences and baselines per user).
#
#   benches/rules.sh [DATA_DIR] [RUNS] [ANALYZE_ARGS...]   default DATA_DIR=/tmp/breachline-synth, RUNS=3
#
# ANALYZE_ARGS go to `analyze`: `benches/rules.sh /tmp/breachline-synth 3 --sigma ~/sigma/rules/cloud`
# measures the built-in rules plus the Sigma rules that load.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-/tmp/breachline-synth}"
runs="${2:-3}"
shift $(( $# < 2 ? $# : 2 ))
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet --bin breachline --example generate
bin="$CARGO_TARGET_DIR/release/breachline"
if [ ! -f "$data/ual_purview_export.csv" ]; then
  "$CARGO_TARGET_DIR/release/examples/generate" synthetic "$data"
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$runs"); do
  BREACHLINE_TIMING=1 "$bin" --quiet analyze "$data" --json "$@" 2>&1 >/dev/null | grep '^timing: detect'
done
