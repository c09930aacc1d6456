#!/usr/bin/env bash
# Training throughput on one CUDA GPU (issue #7), from the repository root:
#   bash experiments/gpu/bench_training.sh
# ours (trainer=gpu: bf16, windows on the GPU, 8 batches per Lightning step, background
# checkpoints, MLflow or CSV logger, progress bar), ours with 1 batch per Lightning step
# (single), and bare (Lightning alone, 8 batches a step) vs a raw nn.LSTM loop on
# tensors already on the GPU vs TensorDataset + DataLoader, at 7 channels / hidden 128 /
# batch 256 (ETTh1 and ETTm1 sizes) and 321 channels / hidden 512 / batch 1024 (ECL size);
# then where our loop syncs.
# Needs python3 with torch, pytorch-lightning, numpy, pandas; Hydra comes from experiments/gpu/site
# (bash experiments/gpu/prepare.sh); mlflow is optional (a CSV logger without it).
# About 5 minutes on one H100 (raw fits run between the variants); the table lands in $OUT (or experiments/results/).
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-experiments/results}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
status=0
PYTHONPATH="$PWD:$PWD/experiments/gpu/site" timeout ${LIMIT:-330} python3 experiments/bench_training.py --device cuda --repeats ${REPEATS:-2} \
  --shapes ${SHAPES:-etth ecl ettm} --variants raw ours single bare tensor_dataset \
  --out "$out/bench_training_gpu.md" 2> "$out/bench_training_gpu.log" || status=$?
# progress bars go to the log; show what went wrong, if anything
grep -v "it/s" "$out/bench_training_gpu.log" | grep -B 2 -A 25 -E "failed|Traceback|Error" \
  | head -80 >&2 || true
exit "$status"
