"""Write a synthetic demo cohort (fundus glaucoma/normal or seven-class dermoscopy).

Examples::

    python scripts/make_demo_cohort.py fundus demo/fundus --ratio 9 --n-max 180 --image-size 128 --seed 0
    python scripts/make_demo_cohort.py dermoscopy demo/isic --preview /tmp/isic_preview.png

Without ``--ratio`` and ``--n-max`` the generator's default counts are used (fundus 20:180,
dermoscopy HAM10000 proportions); with either, the exponential long-tail profile with the
other at its default (fundus: ratio 9, 180 normal; dermoscopy: ratio 40, 120 naevi).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from monai_debclust.data.longtail import class_count_summary, format_class_summary
from monai_debclust.data.synthetic import preview_sheet, read_labels_csv
from monai_debclust.data.synthetic.dermoscopy import DERMOSCOPY_COUNTS, dermoscopy_counts, make_dermoscopy_cohort
from monai_debclust.data.synthetic.fundus import FUNDUS_COUNTS, fundus_counts, make_fundus_cohort

TASKS = {
    # task: (writer, default counts, profile(n_max, ratio), default n_max, default ratio)
    "fundus": (make_fundus_cohort, FUNDUS_COUNTS, fundus_counts, 180, 9.0),
    "dermoscopy": (make_dermoscopy_cohort, DERMOSCOPY_COUNTS, dermoscopy_counts, 120, 40.0),
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=sorted(TASKS), help="which synthetic cohort to draw")
    parser.add_argument("out", help="cohort folder to create (absent or empty)")
    parser.add_argument("--ratio", type=float, help="imbalance ratio, largest over smallest class (>= 1)")
    parser.add_argument("--n-max", type=int, help="size of the largest class")
    parser.add_argument("--image-size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="seed; the same seed gives identical files (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier cohort at OUT")
    parser.add_argument("--preview", metavar="PATH", help="also save a PNG contact sheet of the cohort here")
    parser.add_argument("--per-class", type=int, default=6, help="images per class on the preview (default 6)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    make, default_counts, profile, default_n_max, default_ratio = TASKS[args.task]
    if args.ratio is None and args.n_max is None:
        counts = dict(default_counts)
    else:
        try:
            counts = profile(
                default_n_max if args.n_max is None else args.n_max,
                default_ratio if args.ratio is None else args.ratio,
            )
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    start = time.perf_counter()
    out = make(args.out, counts, image_size=args.image_size, seed=args.seed, overwrite=args.overwrite)
    elapsed = time.perf_counter() - start
    total = sum(counts.values())

    names = sorted(counts)
    items = [{"label": names.index(label)} for _, label in read_labels_csv(out)]
    print(format_class_summary(class_count_summary(items, names)))
    print(f"wrote {total} images of {args.image_size} px to {out} in {elapsed:.2f} s "
          f"({1000 * elapsed / total:.1f} ms per image, PNG writing included)")
    if args.preview:
        print(f"preview: {preview_sheet(out, args.preview, per_class=args.per_class)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
