#!/usr/bin/env bash
# The accuracy settings too long for 2 CPU cores, on one GPU (about 5 minutes on an H100).
#
#   bash experiments/gpu/prepare.sh               # here, once: fills experiments/gpu/{data,site}
#   bash experiments/gpu/accuracy.sh [DATA_DIR [SETTING...]]  # on the GPU machine; DATA_DIR defaults to
#                                                  # experiments/gpu/data (ett/, m4_hourly/ ...)
#
# Each setting is `experiments/benchmark.py --only NAME --accelerator gpu` (the same runner,
# configs and baselines as on the CPU); its rows are added to experiments/results/accuracy.csv
# and accuracy.md is rebuilt. With $OUT set (the device tool), both files are copied there.
# A setting that fails or runs past its time limit is reported and the others still run.
set -uo pipefail
cd "$(dirname "$0")/../.."
data="$(realpath "${1:-experiments/gpu/data}")"
export PYTHONPATH="$PWD:$PWD/experiments/gpu/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 -c "import torch, hydra; assert torch.cuda.is_available(), 'no GPU'; \
print('torch', torch.__version__, torch.cuda.get_device_name(0))" || exit 1
failed=()
run() {  # run SETTING SECONDS
  local start=$SECONDS
  timeout "$2" python3 experiments/benchmark.py --only "$1" --accelerator gpu --data-dir "$data" \
    || failed+=("$1")
  echo "== $1: $((SECONDS - start)) s"
}
settings=("${@:2}")
# the settings marked "gpu" in experiments/accuracy_report.py (tests/test_configs.py checks)
[ ${#settings[@]} -gt 0 ] || settings=(etth1_m720 etth1_m96_gpu)
declare -A limit=([etth1_m720]=150 [etth1_m96_gpu]=120)
for setting in "${settings[@]}"; do run "$setting" "${limit[$setting]:-150}"; done
if [ -n "${OUT:-}" ]; then cp experiments/results/accuracy.csv experiments/results/accuracy.md "$OUT/"; fi
if [ ${#failed[@]} -gt 0 ]; then echo "failed: ${failed[*]}"; exit 1; fi
