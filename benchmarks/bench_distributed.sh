#!/usr/bin/env bash
# Wall time of the layer-subspace estimation (all conv layers of the shipped VGG, N images) with one
# process and with torchrun over P processes (threads split so that processes x threads = cores).
#
#   bash benchmarks/bench_distributed.sh [images=2000] [processes=2] [cores=2]
set -euo pipefail
N=${1:-2000}; P=${2:-2}; CORES=${3:-2}
BIN=${BIN:-.venv/bin}
run() { grep -o "in [0-9.]* s" | tail -1 | tr -dc '0-9.'; }
one=$("$BIN/python" -m aslib.cli layer-study --model vgg19_bn_w025_cifar10 --images "$N" --sketch 200 \
      --threads "$CORES" 2>/dev/null | run)
many=$(OMP_NUM_THREADS=$((CORES / P > 0 ? CORES / P : 1)) "$BIN/torchrun" --standalone --nproc_per_node="$P" \
      -m aslib.cli layer-study --model vgg19_bn_w025_cifar10 --images "$N" --sketch 200 \
      --threads $((CORES / P > 0 ? CORES / P : 1)) 2>/dev/null | run)
echo "layer subspaces, $N images: 1 process ${one} s, $P processes ${many} s, speed-up $(python3 -c "print(f'{$one / $many:.2f}')")x"
