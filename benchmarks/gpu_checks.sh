#!/usr/bin/env bash
# GPU session in one go, in the order that matters when time runs short:
#   1. CPU/GPU parity tests, run to completion;
#   2. the subspace benchmark (capture + Frequent Directions against a plain forward+backward, FD's
#      rate against the GPU's matmul rate, the folds' eigh on the GPU and on the CPU) and the attack benchmark;
#   3. the all-layer active-subspace study of the full-width VGG-19-BN on the 50,000 CIFAR-10 training
#      images (random weights: no trained full-width network ships; the cost does not depend on them;
#      `layer-study` uses method="auto": the exact Gram matrix at layers of at most 8.3 l neurons);
#   4. optionally (TRAIN_S > 0 seconds) the two CIFAR-10 zoo recipes side by side.
#
#   ASLIB_DATA=/path/to/data OUT=/path/to/results bash benchmarks/gpu_checks.sh [train_seconds]
#
# A training stopped by its time limit leaves its resumable `<name>.pt.state.pt` in $OUT: copy it to
# aslib/checkpoints/<name>.pt.state.pt and finish anywhere with
# `python -m aslib.cli train --recipe <name> --ship` (it resumes from that state).
set -uo pipefail
OUT=${OUT:?set OUT to a results folder}
TRAIN_S=${1:-0}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 ASLIB_CACHE=${ASLIB_CACHE:-/tmp/aslib_cache}
PY=${PY:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.log"
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a "$OUT/gpu.log"
$PY -c "from aslib import data; data.load('cifar10', 'train'); data.load('cifar10', 'test')"  # decode the JPEG cache once

{
  echo "== parity (CPU vs CUDA), to completion"
  timeout 400 $PY -m pytest -q -p no:cacheprovider tests/test_gpu_parity.py \
    tests/linalg/test_subspace.py::test_cpu_gpu_parity tests/linalg/test_pce.py::test_cuda_parity 2>&1 | tail -15
  echo "== bench_subspace (GPU), 4096 images, l = 200"
  timeout 150 $PY benchmarks/bench_subspace.py --n 4096 --device cuda 2>&1 | grep -a -v "USDT\|gpuGetDeviceCount" | tail -42
  echo "== bench_attacks (GPU)"
  timeout 90 $PY benchmarks/bench_attacks.py --n 100 --device cuda 2>&1 | tail -20
  echo "== all-layer study: full-width VGG-19-BN (random weights), 50,000 images, l = 400, one GPU"
  $PY -c "from aslib.nets import models; from aslib.store import zoo; zoo.save_checkpoint(models.build('vgg19_bn'), \
{'arch': 'vgg19_bn', 'arch_kwargs': {}, 'dataset': 'cifar10'}, '$OUT/vgg19_bn_random.pt')"
  timeout 240 $PY -m aslib.cli layer-study --model "$OUT/vgg19_bn_random.pt" --images 50000 --sketch 400 \
    --device cuda 2>&1 | grep -a -v "it/s\|s/it" | tail -22
} >> "$OUT/gpu.log"

if [ "$TRAIN_S" -gt 0 ]; then
  for recipe in vgg19_bn_w025_cifar10 resnet20_cifar10; do
    timeout "$TRAIN_S" $PY -m aslib.cli train --recipe "$recipe" --out "$OUT/$recipe.pt" --device cuda \
      > "/tmp/train_$recipe.log" 2>&1 &
  done
  wait
  for recipe in vgg19_bn_w025_cifar10 resnet20_cifar10; do
    echo "== train $recipe"; tr '\r' '\n' < "/tmp/train_$recipe.log" | grep -a "^epoch [0-9]*: train" | tail -62
    tr '\r' '\n' < "/tmp/train_$recipe.log" | tail -3
  done >> "$OUT/gpu.log"
fi
cat "$OUT/gpu.log"
