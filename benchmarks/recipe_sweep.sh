#!/usr/bin/env bash
# Variants of a training recipe ($RECIPE, default the CIFAR-10 VGG) side by side on one GPU: each
# run is launch-bound, so several share the card well (8 runs: about 9 s per epoch each on an H200).
#
#   ASLIB_DATA=/path/to/data OUT=/path/to/results bash benchmarks/recipe_sweep.sh EPOCHS SECONDS ["FIELD=V ..." ...]
#
# Each quoted argument is one variant (Recipe fields to override). $OUT gets summary.txt (one JSON
# line per variant) and the checkpoints of the two best variants, or their resumable states if
# stopped (benchmarks/recipe_sweep.py with the same --set options and --out resumes one anywhere).
set -uo pipefail
OUT=${OUT:?set OUT to a results folder}
RECIPE=${RECIPE:-vgg19_bn_w025_cifar10}
EPOCHS=${1:-12}
LIMIT_S=${2:-450}
shift 2 || true
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=("label_smoothing=0" "label_smoothing=0.1")
WORK=$(mktemp -d)
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 ASLIB_CACHE=${ASLIB_CACHE:-/tmp/aslib_cache}
PY=${PY:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
$PY -c "from aslib import data; data.load('cifar10', 'train'); data.load('cifar10', 'test')"
i=0
for v in "${variants[@]}"; do
  sets=(); for kv in $v; do sets+=(--set "$kv"); done
  timeout "$LIMIT_S" $PY benchmarks/recipe_sweep.py --recipe "$RECIPE" --set "epochs=$EPOCHS" \
    "${sets[@]}" --out "$WORK/variant$i.pt" --device cuda > "$WORK/variant$i.log" 2>&1 &
  i=$((i + 1))
done
wait
for ((j = 0; j < i; j++)); do
  grep -a '^{' "$WORK/variant$j.log" | sed "s/^{/{\"variant\": $j, /" || $PY -c "import json, sys, torch
s = torch.load(sys.argv[1], weights_only=True)
h = [round(e['test_accuracy'], 4) for e in s['history']]
print(json.dumps({'variant': int(sys.argv[2]), 'stopped': True, 'test_accuracy': h[-1] if h else 0, 'history': h}))" \
    "$WORK/variant$j.pt.state.pt" "$j"
done | tee "$OUT/summary.txt"
$PY - "$WORK" "$OUT" <<'PY'
import json, pathlib, shutil, sys
work, out = map(pathlib.Path, sys.argv[1:])
runs = [json.loads(line) for line in (out / "summary.txt").read_text().splitlines() if line.startswith("{")]
for run in sorted(runs, key=lambda r: -r["test_accuracy"])[:2]:
    name = f"variant{run['variant']}.pt" + (".state.pt" if run.get("stopped") else "")
    shutil.copy(work / name, out)
PY
