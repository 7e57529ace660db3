#!/usr/bin/env bash
# On a machine with one CUDA GPU, in under 5 minutes: the GPU-marked tests, then seconds per 100 generator
# updates of the full-width standard CNN at 32x32 on random data for every regularizer at n_dis 5.
# The table goes to reports/perf/gpu.md (or $1). Nothing is downloaded: it needs torch with CUDA, pyyaml,
# pandas, pytest and tqdm (torch-fidelity is not imported). PYTHON picks the interpreter (default python3,
# or .venv's when there is one).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-reports/perf/gpu.md}
py=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
"$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_check: no CUDA GPU visible to torch')"
SECONDS=0
echo "== GPU tests"
timeout 180 "$py" -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu.py
echo "== speed ($SECONDS s so far)"
timeout 240 "$py" scripts/gpu_speed.py --out "$out"
echo "== gpu_check: done in $SECONDS s; table in $out"
