#!/usr/bin/env bash
# GPU session in one go: train the two CIFAR-10 zoo recipes, check CPU/GPU parity, time the GPU path.
#
#   ASLIB_DATA=/path/to/data OUT=/path/to/results bash benchmarks/gpu_checks.sh [train_seconds]
#
# Both trainings run side by side on the one GPU (each is launch-bound at batch 128) and write their
# checkpoints to $OUT; a run stopped by the time limit leaves its resumable `<name>.pt.state.pt`
# there instead: copy it to aslib/checkpoints/<name>.pt.state.pt and finish anywhere with
# `python -m aslib.cli train --recipe <name> --ship` (it resumes from that state).
set -uo pipefail
OUT=${OUT:?set OUT to a results folder}
TRAIN_S=${1:-360}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 ASLIB_CACHE=${ASLIB_CACHE:-/tmp/aslib_cache}
PY=${PY:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.log"
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a "$OUT/gpu.log"
$PY -c "from aslib import data; data.load('cifar10', 'train'); data.load('cifar10', 'test')"  # decode the JPEG cache once

for recipe in vgg19_bn_w025_cifar10 resnet20_cifar10; do
  timeout "$TRAIN_S" $PY -m aslib.cli train --recipe "$recipe" --out "$OUT/$recipe.pt" --device cuda \
    > "/tmp/train_$recipe.log" 2>&1 &
done
{
  echo "== parity (CPU vs CUDA)"
  timeout 150 $PY -m pytest -q -p no:cacheprovider tests/test_gpu_parity.py \
    tests/test_subspace.py::test_cpu_gpu_parity tests/test_pce.py::test_cuda_parity 2>&1 | tail -15
} >> "$OUT/gpu.log"
wait
for recipe in vgg19_bn_w025_cifar10 resnet20_cifar10; do
  echo "== train $recipe"; tr '\r' '\n' < "/tmp/train_$recipe.log" | grep -a "^epoch [0-9]*: train" | tail -62
  tr '\r' '\n' < "/tmp/train_$recipe.log" | tail -3
done >> "$OUT/gpu.log"

{
  echo "== bench_subspace (GPU)"
  timeout 90 $PY benchmarks/bench_subspace.py --n 4096 --device cuda 2>&1 | tail -12
  echo "== bench_attacks (GPU)"
  timeout 90 $PY benchmarks/bench_attacks.py --n 100 --device cuda 2>&1 | tail -20
  echo "== layer-study, 10000 images, one GPU"
  timeout 90 $PY -m aslib.cli layer-study --model vgg19_bn_w025_cifar10 --images 10000 --sketch 400 --device cuda \
    2>&1 | grep -a -v "it/s\|s/it" | tail -22
} >> "$OUT/gpu.log"
cat "$OUT/gpu.log"
