#!/usr/bin/env bash
# The real-data study behind the bundles' DEC-phase defaults (docs/results.md).
#
# One warm-up (representation only) per data set, then the clustering phase branched from the
# same warm-up checkpoint with different settings, so the branches differ only in the DEC phase;
# plus a SimCLR run of the same total epochs and the raw-pixel floor. Results are appended to
# runs/real/results.jsonl. Needs ../shared/data. About 25 minutes per data set on 2 CPU cores.
#   usage: [BRANCHES='paper_beta1 beta0_ramp'] bash benchmarks/realdata_study.sh fundus|isic
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
case "${1:?fundus or isic}" in
  fundus)
    DATA=runs/fundus_1to9; BUNDLE=refuge; K=2
    [ -d "$DATA" ] || $PY scripts/make_longtail_subset.py ../shared/data/fundus4 "$DATA" --counts glaucoma=100 normal=900 ;;
  isic)
    DATA=../shared/data/isic9/Train; BUNDLE=isic2018; K=9 ;;
esac
WARM=${WARM:-12}; TOTAL=${TOTAL:-20}
OUT=runs/real/$BUNDLE
run() { $PY benchmarks/realdata.py run "$DATA" --bundle $BUNDLE --num-clusters $K "$@"; }

[ -n "${SKIP_FLOOR:-}" ] || $PY benchmarks/realdata.py floor "$DATA" --num-clusters $K
[ -d $OUT/warmup/models ] || run --output $OUT/warmup --epochs $WARM -- --warmup_epochs $WARM --val_interval 1000
branch() {  # name, then overrides of the clustering phase
  local name=$1; shift
  rm -rf "$OUT/$name"; cp -r "$OUT/warmup" "$OUT/$name"; rm -rf "$OUT/$name/models"
  run --output "$OUT/$name" --epochs $TOTAL -- --warmup_epochs $WARM --val_interval 1000 "$@"
}
want() { [[ " ${BRANCHES:-paper_beta1 beta0 beta0_ramp no_clustering} " == *" $1 "* ]]; }
want paper_beta1 && branch paper_beta1 --beta 1.0 --gamma 5.0 --gamma_rampup_epochs 0
want beta0 && branch beta0 --beta 0.0 --gamma 5.0 --gamma_rampup_epochs 0
want beta0_ramp && branch beta0_ramp --beta 0.0 --gamma 5.0 --gamma_rampup_epochs 4
want no_clustering && branch no_clustering --gamma 0.0
run --output $OUT/simclr --epochs $TOTAL --simclr -- --warmup_epochs $WARM --val_interval 1000
