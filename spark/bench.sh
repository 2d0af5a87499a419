#!/usr/bin/env bash
# The Spark job against analyze on a generated tenant (docs/spark.md, "Measured"): generates the
# synthetic set once (benches/generate.rs), runs `breachline analyze --out` and the Spark job with
# local[2] on it and the demo case (fixtures/demo, so that there are findings, a compromised
# account and recipients to compare: the synthetic set alone gives no finding) (release binary, wall time and peak RSS from GNU time), then checks that the two
# case folders agree (tests/spark.rs, cases_agree: findings, verdicts, blast radius, recipients,
# timeline rows, after a total sort).
#
#   spark/bench.sh [DATA_DIR] [GENERATE_OPTIONS...]
#   spark/bench.sh /tmp/breachline-synth-1m --audit-rows 600000 --signin-rows 400000 --trace-rows 100000
#
# Default DATA_DIR=/tmp/breachline-synth with the generator's default sizes (2.2M events);
# SPARK_GROUPS (default 8) and SPARK_DRIVER_MEMORY (default 4g) set the Spark run.
# Needs PySpark 4 and Java 17 (see .ci/run). The case folders go to DATA_DIR.cases/.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-/tmp/breachline-synth}"
shift || true
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet --bin breachline --example generate
bin="$CARGO_TARGET_DIR/release/breachline"
if [ ! -d "$data" ] || [ -z "$(ls -A "$data")" ]; then
  "$CARGO_TARGET_DIR/release/examples/generate" synthetic "$data" "$@"
fi
cases="$data.cases"
rm -rf "$cases"
mkdir -p "$cases"
submit="$(python3 -c "import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), 'bin', 'spark-submit'))")"
echo "evidence: $(du -sh "$data" | cut -f1) in $(find "$data" -type f | wc -l) files"

/usr/bin/time -f "analyze: %e s wall, %M KB peak RSS (largest process)" \
  "$bin" --quiet analyze "$data" fixtures/demo --out "$cases/analyze"

# GNU time waits for spark-submit's JVM, whose peak RSS it reports; the Python workers and the
# breachline calls are its children, and the largest of them is reported apart by
# _work/peak.txt below.
/usr/bin/time -f "spark local[2]: %e s wall, %M KB peak RSS (largest process)" \
  env SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON=python3 "$submit" --master 'local[2]' \
  --driver-memory "${SPARK_DRIVER_MEMORY:-4g}" --conf spark.ui.enabled=false \
  spark/breachline_spark.py "$data" fixtures/demo --breachline "$bin" --out "$cases/spark" \
  --groups "${SPARK_GROUPS:-8}"
echo "Spark steps (s):"
cat "$cases/spark/_work/timings.json"
echo

BREACHLINE_SPARK_CASES="$cases/analyze $cases/spark" \
  cargo test --quiet --test spark -- --ignored cases_agree
