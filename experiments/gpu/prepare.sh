#!/usr/bin/env bash
# Fill experiments/gpu/{data,site} (git-ignored) so accuracy.sh runs on a bare GPU machine:
#   data/  the benchmark files it reads (ETT, exchange_rate, national_illness, m4_hourly)
#   site/  Hydra and OmegaConf (pure Python), which the GPU image lacks
# Usage: bash experiments/gpu/prepare.sh [SHARED_DATA_DIR] (default ../shared/data)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
src="${1:-$repo/../shared/data}"
mkdir -p "$here/data" "$here/site"
for dir in ett exchange_rate national_illness m4_hourly; do
  mkdir -p "$here/data/$dir"
  cp "$src/$dir"/*.csv "$here/data/$dir/"
done
where='import hydra, os; print(os.path.dirname(os.path.dirname(hydra.__file__)))'
site="$(python3 -c "$where" 2>/dev/null || "$repo/.venv/bin/python" -c "$where")"  # or this repo's venv
for package in hydra omegaconf antlr4; do
  rm -rf "$here/site/$package"
  cp -r "$site/$package" "$here/site/$package"
done
find "$here/site" -name '__pycache__' -prune -exec rm -rf {} +
du -sh "$here/data" "$here/site"
