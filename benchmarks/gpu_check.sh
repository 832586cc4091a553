#!/usr/bin/env bash
# Everything this project checks on a GPU, as one prepared command for a lent device machine:
#   1. the CUDA tests (tests_gpu: layer and networks on CUDA, float32/float64, FFT path);
#   2. the layer-overhead benchmark on CUDA (order 4, 128² grid: autodiff vs mollifier vs floor);
#   3. the convolution-algorithm crossover on CUDA (benchmarks/conv_crossover.py: is the CPU's
#      "auto" rule, or the GPU's unmeasured one, right there?) and the per-architecture cost
#      (benchmarks/network_cost.py, the table of docs/nets.md);
#   4. the benchmark's full tier (benchmarks/gpu_full_tier.sh), with a shorter time budget.
# Outputs (at most 8 files) go to $OUT: the full tier's seven, plus env.txt with the test and
# overhead logs appended. Usage on the device:  OUT=/some/dir bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-check}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"
LOG=/tmp/mollifier-gpu-checks.txt
{
    echo "== tests_gpu =="
    timeout 150 "$PY" -m pytest -q -p no:cacheprovider tests_gpu 2>&1 | tail -15
    echo "== layer overhead (cuda) =="
    timeout 90 "$PY" benchmarks/layer_overhead.py --device cuda --steps 20 --rounds 1 2>&1 | tail -15
    echo "== convolution crossover (cuda) =="
    timeout 40 "$PY" benchmarks/conv_crossover.py --device cuda --repeats 9 \
        --sizes 128 512 2048 --taps 13 97 2>&1 | tail -12
    echo "== network cost (cuda) =="
    timeout 40 "$PY" benchmarks/network_cost.py --device cuda --cycles 5 2>&1 | tail -8
} > "$LOG" 2>&1
cat "$LOG"
OUT="$OUT" LIMIT="${LIMIT:-250}" BUDGET="${BUDGET:-190}" bash benchmarks/gpu_full_tier.sh
status=$?
cat "$LOG" >> "$OUT/env.txt"
exit $status
