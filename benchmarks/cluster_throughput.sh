#!/usr/bin/env bash
# Batch throughput, serial versus a local Dask cluster (benchmarks/RESULTS.md, section 9):
# 16 synthetic STORM nuclei through `mollifier storm`, and a sweep of 12 direct heat fits
# through `mollifier fit`, each timed serially and with --workers 2, alternating, REPEATS times.
# Usage: benchmarks/cluster_throughput.sh WORKDIR [REPEATS]   (python: $PYTHON, default python)
set -euo pipefail
work=${1:?usage: cluster_throughput.sh WORKDIR [REPEATS]}
repeats=${2:-2}
py=${PYTHON:-python}
mkdir -p "$work"
ml() { "$py" -m mollifier "$@"; }
[ -d "$work/nuclei" ] || ml simulate storm --out "$work/nuclei" --nuclei 16 --size 3500 2975 \
    --localisations 490000 --no-nucleolus --quiet >/dev/null
[ -d "$work/heat48" ] || ml simulate heat --grid 48 --seed 1 --out "$work/heat48" >/dev/null
cat > "$work/sweep.toml" <<'TOML'
# 12 direct fits of steady heat on a 48 x 48 grid: noise x kernel x seed
[data]
path = "heat48"
[problem]
builtin = "heat"
[mollifier]
width = "auto"
[solver]
method = "direct"
[sweep]
noise = [0.0, 0.01, 0.02]
kernel = ["polybump", "bump"]
seed = [0, 1]
TOML
echo "| batch | mode | repeat | wall time (s) |"
echo "|---|---|---|---|"
for r in $(seq "$repeats"); do
  for mode in serial workers2; do
    opt=(); [ "$mode" = workers2 ] && opt=(--workers 2)
    for batch in storm sweep; do
      out="$work/$batch-$mode"; rm -rf "$out"
      t0=$(date +%s.%N)
      if [ "$batch" = storm ]; then
        ml storm "$work"/nuclei/*.csv --out "$out" --quiet "${opt[@]}" >"$out.log" 2>&1 \
          || { echo "storm $mode failed: see $out.log" >&2; exit 1; }
      else
        ml fit "$work/sweep.toml" --out "$out" --quiet "${opt[@]}" >"$out.log" 2>&1 \
          || { echo "sweep $mode failed: see $out.log" >&2; exit 1; }
      fi
      t1=$(date +%s.%N)
      printf '| %s | %s | %s | %.1f |\n' "$batch" "$mode" "$r" "$("$py" -c "print($t1 - $t0)")"
    done
  done
done
