#!/usr/bin/env bash
# On a machine with one CUDA GPU, in about 7 minutes (2 of them the GPU tests): the GPU-marked tests, then seconds per 100 generator
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
# 2 x 40 updates per row took 281 s on an H200 (2026-11-30); 2 x 30 leaves room for the fused rows after it
timeout 300 "$py" scripts/gpu_speed.py --updates 30 --reps 2 --out "$out"
echo "== fused groups of 1, 4, 16 seeds ($SECONDS s so far; not yet run on a GPU: its own table, so a timeout here keeps the first)"
timeout 100 "$py" scripts/gpu_speed.py --fused-only --updates 10 --reps 1 --out "${out%.md}-fused.md" || echo "fused rows: timed out or failed"
echo "== gpu_check: done in $SECONDS s; tables in $out and ${out%.md}-fused.md"
