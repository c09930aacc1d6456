#!/usr/bin/env bash
# The GPU checks of issue #7 in one call (the device tool lends ~15 minutes, start included),
# from the repository root, after `bash experiments/gpu/prepare.sh` here:
#   1. GPU-resident windows: batches gathered on the GPU (experiments/gpu_windows_check.py)
#   2. the Python API on the GPU, bf16 (experiments/gpu/forecaster_check.py)
#   3. training throughput vs a raw torch loop (experiments/gpu/bench_training.sh, 2 shapes)
# The ETTh1 L=720 variants on the GPU (experiments/variants.py ... --accelerator gpu) and the
# accuracy table (experiments/gpu/accuracy.sh) are separate calls: issue #4 is settled.
# experiments/gpu/where_time_goes.py (where a fit of ours loses time against raw) and
# experiments/gpu/graph_step_check.py (a CUDA-graph step vs the raw loop's) are others.
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
step windows 60 bash -o pipefail -c "python3 experiments/gpu_windows_check.py 2>&1 | grep -v 'it/s' \
  | tee '$out/gpu_windows_check.txt' | tail -8"
step forecaster 60 bash -o pipefail -c "python3 experiments/gpu/forecaster_check.py \
  | tee '$out/gpu_forecaster_check.txt'"
step training 340 env SHAPES="etth ecl" LIMIT=330 bash experiments/gpu/bench_training.sh
if [ ${#failed[@]} -gt 0 ]; then echo "failed: ${failed[*]}"; exit 1; fi
