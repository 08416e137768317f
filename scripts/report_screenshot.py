"""Screenshot of the interactive report on the generated demo cohort (docs/report.jpg).

Trains a small REFUGE bundle on its demo cohort, clusters the cohort, and has headless Chromium
photograph ``report.html#image=<row>`` (the map, the image panel with its neighbours, the top
of the galleries). Only generated images are shown: never point it at real data.

    python scripts/report_screenshot.py --work /tmp/report-shot --out docs/report.jpg
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SMALL = {"epochs": 4, "dim": 32, "depth": 2, "image_size": 32, "batch_size": 32, "device": "cpu"}


def run(*command: str) -> None:
    subprocess.run(command, cwd=REPO, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, help="folder for the training run and its clustering")
    parser.add_argument("--out", default=str(REPO / "docs" / "report.jpg"), help="the JPEG to write")
    parser.add_argument("--image", type=int, default=3, help="row of the image whose panel is open")
    parser.add_argument("--quality", type=int, default=70, help="JPEG quality")
    args = parser.parse_args(argv)
    work = Path(args.work)
    settings = [f"--{key}={value}" for key, value in SMALL.items()]
    run(sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", "bundles/refuge/train.json",
        "--output_dir", str(work), *settings)
    run(sys.executable, "-m", "monai_debclust.cli", "cluster", str(work / "demo_cohort"), "--bundle", "bundles/refuge",
        "--output", str(work), "--device", "cpu")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("headless Chromium is needed (Debian: apt-get install chromium)")
    page = (work / "clustering" / "report.html").as_uri() + f"#image={args.image}"
    with tempfile.TemporaryDirectory() as profile:
        png = Path(profile) / "shot.png"
        run(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}",
            "--window-size=1320,1600", "--virtual-time-budget=5000", f"--screenshot={png}", page)
        picture = Image.open(png).convert("RGB")
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=args.quality, optimize=True, progressive=True)
    Path(args.out).write_bytes(buffer.getvalue())
    print(f"{args.out}: {picture.size[0]} x {picture.size[1]} px, {len(buffer.getvalue()) / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
