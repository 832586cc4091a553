#!/usr/bin/env bash
# The benchmark's full tier on one GPU, ready to run on a fresh machine with this checkout:
#
#     bash benchmarks/gpu_full_tier.sh          # outputs under $OUT (default ./bench-full)
#
# About 9 minutes of wall time: the tier stops starting runs after 7 minutes (its time budget),
# and the whole command is stopped after 510 s (SIGTERM; the harness then kills the run in
# progress and still writes bench.json, bench.md and the plots for what finished).
# Nothing is installed: the GPU image's python3 already has torch, numpy, scipy, matplotlib and
# tqdm, and this checkout's src/ and benchmarks/ (the harness) go on PYTHONPATH. At most 8 files
# are left in $OUT: bench.json, bench.md, five PNGs and env.txt (GPU, driver, torch, commit).
# A local dry run of the same steps on CPU: TIER=smoke DEVICE=cpu PYTHON=.venv/bin/python bash ...
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/bench-full}"
WORK="${BENCH_WORK:-/tmp/mollifier-bench-full}"
PY="${PYTHON:-python3}"
TIER="${TIER:-full}"
DEVICE="${DEVICE:-cuda}"
LIMIT="${LIMIT:-510}"          # hard stop of the bench command, seconds
BUDGET="${BUDGET:-}"           # optional --time-budget override, seconds
mkdir -p "$OUT" "$WORK"
export PYTHONPATH="$PWD/src:$PWD/benchmarks${PYTHONPATH:+:$PYTHONPATH}"

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
    "$PY" -c "import torch, numpy, scipy, matplotlib, tqdm; \
print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', \
torch.cuda.is_available(), 'numpy', numpy.__version__, 'scipy', scipy.__version__)"
    nproc
} 2>&1 | tee "$WORK/env.txt"

start=$(date +%s)
timeout -s TERM -k 20 "$LIMIT" "$PY" -m mollifier_bench --tier "$TIER" --out "$WORK" \
    --device "$DEVICE" --quiet ${BUDGET:+--time-budget "$BUDGET"}
status=$?
echo "bench exit status $status after $(( $(date +%s) - start )) s" | tee -a "$WORK/env.txt"

cp "$WORK/env.txt" "$OUT/"
for f in bench.json bench.md time_vs_order.png memory_vs_order.png scaling_grid.png \
         accuracy_vs_noise.png fields.png; do
    [ -f "$WORK/$f" ] && cp "$WORK/$f" "$OUT/"
done
[ -f "$WORK/bench.md" ] && sed -n '1,60p' "$WORK/bench.md"
exit $status
