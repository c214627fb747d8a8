#!/usr/bin/env bash
# The benchmark set (goals C1 C2 C4 W1 W2 W4 W5 M1 of benchmarks/faas_bench/goals.toml) in one
# command, every figure against its baseline measured in the same run, plus the pool what-if on
# synthetic traces. Needs faas-bench: pip install -e ./benchmarks (the README's first command).
#
#   benchmarks/run_all.sh            # ~5 minutes on a 2-vCPU VM
#   ROUNDS=3 CALLS=5 benchmarks/run_all.sh   # quicker, wider confidence intervals
#
# It starts its own stack (own FAAS_HOME, gateway and Redis ports, so a stack you already run
# is left alone), deploys benchmarks/functions/noop, runs `faas bench`, stops the stack, and
# writes everything to benchmarks/results/<time>/ (gitignored). Its gateway keeps the generic
# runtime pool on (BENCH_GENERIC_POOL spares per container shape, default 2, whatever
# FAAS_GENERIC_POOL says), so the generic mode measures W5 on noop; BENCH_GENERIC_POOL=0 turns it
# off and W5 falls back to the own-image prewarm. Output:
#   results.json  report.md  chart.svg  chart.html  traces/*.csv  replay-*.txt
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

FAAS=${FAAS:-.venv/bin/faas}
OUT=${OUT:-benchmarks/results/$(date +%Y%m%d-%H%M%S)}
ROUNDS=${ROUNDS:-5}
CALLS=${CALLS:-10}
WARM_CALLS=${WARM_CALLS:-1000}
DURATION=${DURATION:-5s}
CONCURRENCY=${CONCURRENCY:-32}
BURST=${BURST:-8}

if [ -n "${BENCH_HOME:-}" ]; then
    export FAAS_HOME=$BENCH_HOME
    cleanup_home=""
else
    FAAS_HOME=$(mktemp -d /tmp/faas-bench-XXXXXX)
    export FAAS_HOME
    cleanup_home=$FAAS_HOME
fi
export FAAS_GATEWAY=${BENCH_GATEWAY:-http://127.0.0.1:8091}
export FAAS_REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:16391/0}
# `faas up` starts the gateway with this environment: the generic mode (W5) needs its spares.
export FAAS_GENERIC_POOL=${BENCH_GENERIC_POOL:-2}
if [ -z "${FAAS_BASE_IMAGE:-}" ] && docker image inspect faas-python:bookworm >/dev/null 2>&1; then
    export FAAS_BASE_IMAGE=faas-python:bookworm  # built by `faas images bootstrap`
fi
command -v wrk >/dev/null 2>&1 || echo "note: wrk is not installed (apt-get install wrk); the concurrent mode uses the Python load client" >&2

mkdir -p "$OUT/traces"
stop() {
    "$FAAS" down >/dev/null 2>&1 || true
    if [ -n "$cleanup_home" ]; then rm -rf "$cleanup_home"; fi
}
trap stop EXIT
"$FAAS" up
"$FAAS" deploy -q benchmarks/functions/noop

# Pool what-if: one synthetic trace of each shape, each driven through the pool policy.
"$FAAS" bench trace steady   -o "$OUT/traces/steady.csv"   --rate 0.2 --seconds 4h
"$FAAS" bench trace bursty   -o "$OUT/traces/bursty.csv"   --rate 5 --on 20s --off 10m --seconds 4h
"$FAAS" bench trace periodic -o "$OUT/traces/periodic.csv" --period 5m --jitter 10s --seconds 24h
"$FAAS" bench trace diurnal  -o "$OUT/traces/diurnal.csv"  --rate 0.5 --seconds 48h
for kind in steady bursty periodic diurnal; do
    "$FAAS" bench replay "$OUT/traces/$kind.csv" --cold-delay 300ms | tee "$OUT/replay-$kind.txt"
done

"$FAAS" bench noop --rounds "$ROUNDS" --calls "$CALLS" --warm-calls "$WARM_CALLS" \
    --duration "$DURATION" --concurrency "$CONCURRENCY" --burst "$BURST" \
    --trace "$OUT/traces/bursty.csv" -o "$OUT"
echo "results in $OUT"
