#!/usr/bin/env bash
# Everything this project checks on a GPU, as one prepared command for a lent device machine
# (typically about 8 minutes, at most 11 with every step at its timeout):
#   1. the CUDA tests (tests_gpu: layer and networks, float32/float64, FFT and matrix paths);
#   2. the layer-overhead benchmark on CUDA (order 4, 128² grid: autodiff vs mollifier vs floor);
#   3. the convolution-algorithm crossover on CUDA (benchmarks/conv_crossover.py) and the
#      per-architecture cost (benchmarks/network_cost.py, the table of docs/nets.md);
#   4. the chromatin MLP pair of the full tier (128², 1% noise, 4×64, lr 3e-3) as whole runs, one
#      at a time, with the steps a 240-s budget allows (at most the tier's 2000):
#      benchmarks/gpu_pairs.py --sequential. The full tier's probes overstated the GPU autodiff
#      step about 2× (RESULTS.md § 6.4); this gives the clean whole-run time ratio.
# The full tier itself (benchmarks/gpu_full_tier.sh, about 9 minutes) was run once; rerun it on
# a longer lease. Outputs in $OUT: env.txt (GPU, torch, commit and the logs of 1–3), pairs.json,
# pairs.md. Usage on the device:  OUT=/some/dir COMMIT=<sha> bash benchmarks/gpu_check.sh
# (the device copy has no .git, so the commit is passed in). DATASETS=DIR reuses chromatin
# datasets simulated beforehand (carry DIR; otherwise the 128² one is simulated there, ~40 s).
# A local dry run of the plumbing:
#   DEVICE=cpu PAIRS=mlp:16 BUDGET=60 PYTHON=.venv/bin/python OUT=/tmp/gc \
#   bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-check}"
PY="${PYTHON:-python3}"
COMMIT="${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
DEVICE="${DEVICE:-cuda}"
PAIRS="${PAIRS:-mlp:128}"
BUDGET="${BUDGET:-240}"
DATASETS="${DATASETS:-}"
case "$BUDGET" in
    '' | *[!0-9]*) echo "BUDGET must be a whole number of seconds, got '$BUDGET'" >&2; exit 2 ;;
esac
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src:$PWD/benchmarks:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $COMMIT"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1
    "$PY" -c "import torch, numpy, scipy; print('torch', torch.__version__, 'cuda', \
torch.version.cuda, 'numpy', numpy.__version__, 'scipy', scipy.__version__)"
    echo "== tests_gpu =="
    timeout 150 "$PY" -m pytest -q -p no:cacheprovider tests_gpu 2>&1 | tail -15
    echo "== layer overhead (cuda) =="
    timeout 90 "$PY" benchmarks/layer_overhead.py --device "$DEVICE" --steps 20 --rounds 1 2>&1 \
        | tail -15
    echo "== convolution crossover (cuda) =="
    timeout 40 "$PY" benchmarks/conv_crossover.py --device "$DEVICE" --repeats 9 \
        --sizes 128 512 2048 --taps 13 97 2>&1 | tail -12
    echo "== network cost (cuda) =="
    timeout 40 "$PY" benchmarks/network_cost.py --device "$DEVICE" --cycles 5 2>&1 | tail -8
} 2>&1 | tee "$OUT/env.txt"
WORK="${BENCH_WORK:-/tmp/mollifier-gpu-pairs}"
# $PAIRS is left unquoted on purpose: one argument per pair (PAIRS="mlp:128 pirate:64").
timeout -k 10 $((BUDGET + 105)) "$PY" benchmarks/gpu_pairs.py --out "$WORK" --sequential \
    --pairs $PAIRS ${DATASETS:+--datasets "$DATASETS"} --device "$DEVICE" \
    --train-budget "$BUDGET" --deadline $((BUDGET + 90)) --commit "$COMMIT" 2>&1 \
    | tee -a "$OUT/env.txt"
status=${PIPESTATUS[0]}
cp "$WORK/pairs.json" "$WORK/pairs.md" "$OUT/" 2>/dev/null
exit "$status"
