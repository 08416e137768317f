#!/usr/bin/env bash
# The study of docs/results/study/ (issue 16): the confirmatory pass (SimCLR and the paper's joint
# recipe, seeds 1-3), then the screening pass (every method and recipe, seed 0), then the confirmatory
# arms on a fundus draw from one image source (single_source), at one budget
# (benchmarks/grids/study_*.yaml); STUDY_PARTS picks parts. Resumable: a finished cell is skipped, an interrupted one resumes
# from its last checkpoint. Run it from a frozen checkout, so later edits cannot land under it:
#   git worktree add ../study <commit> && cd ../study && bash benchmarks/study.sh
# The tables are rewritten after every cell into STUDY_TABLES/<part> (default docs/results/study of
# this checkout), so they can be copied and committed while the study runs. Needs ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
TABLES=${STUDY_TABLES:-docs/results/study}
for part in ${STUDY_PARTS:-confirm screen single_source}; do
    $PY -m monai_debclust.cli experiment "benchmarks/grids/study_${part}.yaml" --tables-dir "$TABLES/$part"
done
