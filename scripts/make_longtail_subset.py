"""Draw a seeded long-tailed subset of a folder-per-class archive, as a folder of links.

The subset keeps the ``<class>/<file>`` layout, so any bundle reads it with ``layout=folder``::

    python scripts/make_longtail_subset.py ../shared/data/fundus4 runs/fundus_1to9 \
        --counts glaucoma=100 normal=900
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from monai_debclust.data.archive import ImageArchive
from monai_debclust.data.longtail import class_count_summary, format_class_summary, sample_longtail, write_class_summary


def _parse_counts(pairs: list[str]) -> dict[str, int]:
    counts = {}
    for pair in pairs:
        name, sep, number = pair.rpartition("=")
        if not sep or not number.isdigit():
            raise SystemExit(f"--counts takes CLASS=N pairs, got {pair!r}.")
        counts[name] = int(number)
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="folder-per-class archive")
    parser.add_argument("destination", type=Path, help="new folder for the subset (must not exist)")
    parser.add_argument("--counts", nargs="+", required=True, metavar="CLASS=N", help="images to draw per class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--copy", action="store_true", help="copy files instead of linking them")
    args = parser.parse_args(argv)

    archive = ImageArchive(args.source, layout="folder")
    wanted = _parse_counts(args.counts)
    unknown = sorted(set(wanted) - set(archive.class_names))
    if unknown:
        raise SystemExit(f"classes {unknown} are not in {args.source} (it has {archive.class_names}).")
    index = {name: k for k, name in enumerate(archive.class_names)}
    subset = sample_longtail(archive.items, {index[name]: n for name, n in wanted.items()}, seed=args.seed)

    args.destination.mkdir(parents=True, exist_ok=False)
    for item in subset:
        target = args.destination / item["id"]
        target.parent.mkdir(parents=True, exist_ok=True)
        source = Path(item["path"]).resolve()
        if args.copy:
            target.write_bytes(source.read_bytes())
        else:
            os.symlink(source, target)
    summary = class_count_summary(subset, archive.class_names)
    write_class_summary(summary, args.destination.parent / f"{args.destination.name}_classes.json")
    print(format_class_summary(summary))
    print(f"subset written to {args.destination}")


if __name__ == "__main__":
    main()
