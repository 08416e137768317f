#!/usr/bin/env bash
# The GPU study in one command (issue 16, item 6): SimCLR, debiased, the paper's joint recipe (gamma 5,
# beta 1) and the best recipe, 3 seeds, equal wall-clock per arm, the paper's ConvMixer 256/8 (kernel 7,
# patch 2, bf16, channels-last, views made on the device), on fundus glaucoma:normal 1:9 and isic9 Train
# from ../shared/data; the experiment runner's tables, the measured images/s, `monai-debclust cluster`
# of the fundus archive on the GPU, and the projected time of the paper's 500-epoch recipe.
#   usage: bash benchmarks/gpu_study.sh [--part fundus|isic9|all] [--train-seconds S] [--best JSON]
#          [--batch-size N] [--compile] [--output DIR]
#          bash benchmarks/gpu_study.sh --smoke      # toy scale on the CPU (generated cohorts), seconds
# Budget: --train-seconds (default 120) per part is shared by every arm and seed; calibration, data
# preparation and evaluation come on top, so that one part fits about 4 minutes and both about 8.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" benchmarks/gpu_study.py "$@"
