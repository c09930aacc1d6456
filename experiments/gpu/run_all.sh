#!/usr/bin/env bash
# Every GPU check of the project in one call (the device tool lends a few minutes), from the
# repository root, after `bash experiments/gpu/prepare.sh` here:
#   1. GPU-resident windows: batches gathered on the GPU (experiments/gpu_windows_check.py)
#   2. training throughput vs a raw torch loop (experiments/gpu/bench_training.sh, 2 shapes)
#   3. variants of the ETTh1 L=720 preset ranked on validation (experiments/variants.py); a
#      variant that wins there becomes the preset, then `bash experiments/gpu/accuracy.sh
#      experiments/gpu/data etth1_m720` (a second call) records it in the accuracy table
# Each step has its own time limit; a failing step is reported and the next still runs.
# Results land in $OUT (or experiments/results/).
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-experiments/results}"
export PYTHONPATH="$PWD:$PWD/experiments/gpu/site" PYTHONUNBUFFERED=1 OUT="$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, pytorch_lightning as pl, sys; print('python', sys.version.split()[0], \
'torch', torch.__version__, 'lightning', pl.__version__)"
failed=()
step() {  # step NAME SECONDS COMMAND...
  local name=$1 seconds=$2 start=$SECONDS; shift 2
  echo "== $name"
  timeout "$seconds" "$@" || failed+=("$name")
  echo "== $name: $((SECONDS - start)) s"
}
step windows 60 bash -c "python3 experiments/gpu_windows_check.py 2>&1 | grep -v 'it/s' \
  | tee '$out/gpu_windows_check.txt' | tail -8"
step training 240 env SHAPES="etth ecl" LIMIT=230 bash experiments/gpu/bench_training.sh
step variants 200 python3 experiments/variants.py etth1_m720 --accelerator gpu \
  --data-dir experiments/gpu/data --results "$out" "" "model.segment_length=48" \
  "model.dropout=0.5" "optim.optimizer.lr=0.001"
if [ ${#failed[@]} -gt 0 ]; then echo "failed: ${failed[*]}"; exit 1; fi
