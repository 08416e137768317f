"""The GPU study in one command: SimCLR, debiased, the paper's joint recipe and the best recipe at equal wall-clock.

For each data set (fundus glaucoma:normal 1:9 from ``../shared/data/fundus4`` by
``scripts/make_longtail_subset.py``, and isic9 ``Train``) the images are decoded once at the
study's size and kept as lossless PNGs (what every run then reads is exactly what the loader
would give it). Every arm trains the bundle's own ``train.json`` in this process with the
paper's configuration (ConvMixer 256/8, kernel 7, patch 2, bf16 autocast, channels-last, the two
views made on the device in batches by ``BatchTwoViews``), first for one calibration epoch that
measures its images/s after the first iterations, then for as many epochs as fit the same
seconds per run for every arm, for each seed. Each run is evaluated by the bundle's
``configs/evaluate.json`` (the experiment runner's evaluation) into the runner's folder layout,
so :func:`~monai_debclust.experiments.write_tables` writes the same tables. Ends with
``monai-debclust cluster`` of the fundus archive with the joint model, timed, and the projected
time of the paper's recipe (500 epochs of 1,000 images) at the joint arm's measured rate.

    python benchmarks/gpu_study.py --part fundus          # on a GPU; see benchmarks/gpu_study.sh
    python benchmarks/gpu_study.py --smoke                # toy scale on the CPU, seconds
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from ignite.engine import Events
from monai.bundle import ConfigParser
from PIL import Image

from monai_debclust.cli import main as cli_main
from monai_debclust.data import ImageArchive, load_cohort, make_dermoscopy_cohort, make_fundus_cohort
from monai_debclust.data.synthetic.dermoscopy import DERMOSCOPY_CLASSES
from monai_debclust.experiments import load_grid, write_tables
from monai_debclust.utils import write_json

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
#: The paper's network and input (Zheng et al., 2022): ConvMixer 256/8, kernel 7, patch 2, 32 px.
PAPER = {"image_size": 32, "dim": 256, "depth": 8, "kernel_size": 7, "patch_size": 2, "amp": True}
#: Toy scale of ``--smoke``: seconds on the CPU.
SMOKE = {"image_size": 16, "dim": 16, "depth": 1, "kernel_size": 3, "patch_size": 2, "amp": False,
         "batch_size": 16, "projection_hidden": 32, "projection_dim": 16}
#: Overrides that make the two views on the device from the plain uint8 image.
DEVICE_VIEWS = {
    "train#preprocessing": {"_target_": "monai.transforms.Identityd", "keys": "image"},
    "train#trainer#views": {"_target_": "monai_debclust.transforms.BatchTwoViews", "preset": "@preset"},
    "train#trainer#amp_kwargs": "${'dtype': torch.bfloat16}",
}
DATASETS = {"fundus": ("refuge", "fundus4"), "isic9": ("isic2018", "isic9/Train")}


def arms(best: dict[str, Any]) -> list[dict[str, Any]]:
    """The study's methods as grid recipes: SimCLR, debiased, the paper's joint (gamma 5, beta 1), the best."""
    return [
        "simclr",
        "debiased",
        {"name": "joint_paper", "method": "joint", "settings": {"gamma": 5.0, "beta": 1.0, "gamma_rampup_epochs": 0}},
        {"name": "best", "method": best.get("method", "joint"),
         "settings": {key: value for key, value in best.items() if key != "method"}},
    ]


def prepare_images(part: str, out: Path, image_size: int, smoke: bool) -> Path:
    """The part's images decoded once at ``image_size``, as ``<class>/<id>.png`` under ``out/data/<part>``."""
    cached = out / "data" / f"{part}_{image_size}px"
    if (cached / "done").is_file():
        return cached
    if smoke:
        source = out / "data" / f"{part}_source"
        make = make_fundus_cohort if part == "fundus" else make_dermoscopy_cohort
        counts = {"glaucoma": 6, "normal": 54} if part == "fundus" else \
            {name: 30 if name == "NV" else 6 for name in DERMOSCOPY_CLASSES}
        make(source, counts=counts, image_size=64, seed=0)
    elif part == "fundus":
        source = out / "data" / "fundus_1to9"
        if not source.is_dir():
            subprocess.run([sys.executable, str(REPO / "scripts" / "make_longtail_subset.py"), str(DATA / "fundus4"),
                            str(source), "--counts", "glaucoma=100", "normal=900"], check=True)
    else:
        source = DATA / DATASETS[part][1]
    archive = ImageArchive(source, layout="folder")
    samples, skipped = load_cohort(archive.items, image_size, progress=False)
    for sample in samples:
        path = cached / f"{sample['id']}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(sample["image"].permute(1, 2, 0).numpy()).save(path)
    (cached / "done").write_text(f"{len(samples)} images, {len(skipped)} skipped\n", encoding="utf-8")
    return cached


class Throughput:
    """Images per second of a trainer after its first ``skip`` iterations (start-up and compilation)."""

    def __init__(self, skip: int = 2) -> None:
        self.skip, self.images, self.start, self.seconds = skip, 0, None, 0.0

    def attach(self, engine) -> None:
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.completed)

    def completed(self, engine) -> None:
        if engine.state.iteration == self.skip:
            self.start = time.perf_counter()
        elif engine.state.iteration > self.skip:
            self.images += len(engine.state.batch["image"])
            self.seconds = time.perf_counter() - self.start

    @property
    def rate(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("nan")


def run_bundle(configs: list[Path], run_id: str, settings: dict[str, Any], throughput: Throughput | None = None):
    """Run ``run_id`` of the bundle ``configs`` in this process with ``settings``; the parser afterwards."""
    parser = ConfigParser()
    parser.read_config([str(path) for path in configs])
    parser.update(settings)
    parser.get_parsed_content("initialize")
    if throughput is not None:
        throughput.attach(parser.get_parsed_content("train#trainer"))
    parser.get_parsed_content(run_id)
    return parser


def run_part(part: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Calibrate, train and evaluate every arm and seed of ``part``; write its tables; its measured figures."""
    budget = SMOKE if args.smoke else PAPER
    data_dir = prepare_images(part, out, budget["image_size"], args.smoke)
    bundle = REPO / "bundles" / DATASETS[part][0]
    classes = ImageArchive(data_dir, layout="folder").class_names
    n_images = len(ImageArchive(data_dir, layout="folder").items)
    grid_file = out / f"{part}.yaml"
    grid_file.write_text(yaml.safe_dump({
        "output_dir": str(out / part), "methods": arms(args.best), "seeds": args.seeds, "settings": {},
        "datasets": {part: {"bundle": DATASETS[part][0], "path": str(data_dir), "imbalance_ratios": ["native"]}},
    }, sort_keys=False), encoding="utf-8")
    grid = load_grid(grid_file)
    device = "cpu" if args.smoke else "cuda"
    base = {**budget, "device": f"$torch.device('{device}')", "layout": "folder", "dataset_dir": str(data_dir),
            "num_clusters": len(classes), "val_interval": 10**6, "num_workers": 0 if args.smoke else args.num_workers,
            **({} if args.smoke else {"batch_size": args.batch_size}), **DEVICE_VIEWS}
    if args.smoke:
        base.pop("train#trainer#amp_kwargs")
    network = "@network_def.to(@device, memory_format=torch.channels_last)"
    base["network"] = f"$torch.compile({network})" if args.compile else f"${network}"
    evaluate = {"probe_epochs": 5 if args.smoke else 100, "probe_batch_size": 512}
    seconds_per_run = args.train_seconds / (len(grid.recipes) * len(args.seeds))
    rates, epochs = {}, {}
    steps_per_epoch = max(1, n_images // (budget.get("batch_size") or args.batch_size))
    calibration_epochs = -(-(args.calibration_steps + Throughput().skip) // steps_per_epoch)
    for recipe in grid.recipes:  # calibration: images/s after the first iterations (start-up, compilation)
        throughput = Throughput()
        run_bundle([bundle / "train.json"], "training", {**base, "method": recipe.method, **recipe.settings,
                   "epochs": calibration_epochs, "output_dir": str(out / part / "calibration" / recipe.name)},
                   throughput)
        rates[recipe.name] = throughput.rate
        epochs[recipe.name] = max(1, int(seconds_per_run * throughput.rate / n_images))
        print(f"images/s {part} {recipe.name}: {throughput.rate:.1f} -> {epochs[recipe.name]} epochs "
              f"in {seconds_per_run:.1f} s per run", flush=True)
    for run in grid.runs():
        settings = {**base, "method": run.recipe.method, **run.recipe.settings, "seed": run.seed,
                    "epochs": epochs[run.recipe.name], "output_dir": str(run.run_dir)}
        run.run_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        throughput = Throughput()
        run_bundle([bundle / "train.json"], "training", settings, throughput)
        trained = time.perf_counter() - start
        run_bundle([bundle / "train.json", bundle / "configs" / "evaluate.json"], "evaluating",
                   {**settings, **evaluate})
        write_json({"dataset": part, "ratio": "native", "method": run.method, "seed": run.seed,
                    "data_dir": str(data_dir), "settings": {key: value for key, value in settings.items()
                                                            if not key.startswith("train#")},
                    "training_seconds": round(trained, 1), "evaluating_seconds":
                        round(time.perf_counter() - start - trained, 1), "images_per_second": throughput.rate},
                   run.run_dir / "run.json")
        print(f"{run.name}: {epochs[run.recipe.name]} epochs in {trained:.1f} s, {throughput.rate:.1f} images/s",
              flush=True)
    for path in write_tables(grid):
        print(f"wrote {path}", flush=True)
    figures = {"images": n_images, "seconds_per_run": seconds_per_run, "images_per_second": rates, "epochs": epochs,
               "device": torch.cuda.get_device_name() if device == "cuda" else "cpu"}
    if part == "fundus":
        figures["cluster"] = cluster_archive(grid, args, out, device)
        joint = rates["joint_paper"]
        figures["projected_paper_recipe_seconds"] = 500 * 1000 / joint
        print(f"projected: the paper's recipe (500 epochs of 1,000 images) at the joint arm's {joint:.1f} images/s "
              f"takes {500 * 1000 / joint / 60:.1f} min", flush=True)
    write_json(figures, out / part / "throughput.json")
    return figures


def cluster_archive(grid, args: argparse.Namespace, out: Path, device: str) -> dict[str, Any]:
    """``monai-debclust cluster`` of the fundus archive with the joint model of the first seed, timed."""
    run = next(r for r in grid.runs() if r.recipe.name == "joint_paper")
    archive = out / "data" / "fundus_source" if args.smoke else DATA / "fundus4"
    bundle = REPO / "bundles" / "refuge"
    start = time.perf_counter()
    status = cli_main(["cluster", str(archive), "--bundle", str(bundle), "--output", str(run.run_dir),
                       "--device", device, "--batch-size", str(args.batch_size if not args.smoke else 16),
                       "--num-workers", str(0 if args.smoke else args.num_workers), "--layout", "folder"])
    seconds = time.perf_counter() - start
    if status:
        raise SystemExit(f"monai-debclust cluster failed with exit status {status}")
    summary = json.loads((run.run_dir / "clustering" / "summary.json").read_text(encoding="utf-8"))
    images, embedding_rate = summary["images"]["clustered"], summary["timings"]["images_per_s"]
    print(f"images/s cluster fundus archive: {images / seconds:.1f} end to end ({images} images in {seconds:.1f} s "
          f"on {device}), embedding {embedding_rate} images/s", flush=True)
    return {"images": images, "seconds": round(seconds, 1), "images_per_second": images / seconds,
            "embedding_images_per_second": embedding_rate}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["fundus", "isic9", "all"], default="all")
    parser.add_argument("--smoke", action="store_true", help="toy scale on the CPU (generated cohorts, seconds)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2 (smoke: 0)")
    parser.add_argument("--train-seconds", type=float, default=None,
                        help="training seconds of a part, shared equally by every run (default 120; smoke 8)")
    parser.add_argument("--best", type=json.loads, default={"method": "joint", "beta": 0.0},
                        help="the best recipe's bundle settings as JSON (default: the CPU study's joint_bundle, the "
                             "bundles' own recipe: beta 0, gamma ramped over the first fifth)")
    parser.add_argument("--batch-size", type=int, default=256, help="images per step on the GPU")
    parser.add_argument("--num-workers", type=int, default=4)
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--calibration-steps", type=int, default=None,
                        help="steps timed per arm to measure its images/s (default 12; smoke 2)")
    parser.add_argument("--output", type=Path, default=REPO / "runs" / "gpu_study")
    args = parser.parse_args(argv)
    args.seeds = args.seeds or ([0] if args.smoke else [0, 1, 2])
    args.train_seconds = args.train_seconds or (8.0 if args.smoke else 120.0)
    args.calibration_steps = args.calibration_steps or (2 if args.smoke else 12)
    if args.smoke:
        args.output = args.output / "smoke" if args.output == REPO / "runs" / "gpu_study" else args.output
    elif not torch.cuda.is_available():
        raise SystemExit("gpu_study needs a CUDA device; --smoke runs it at toy scale on the CPU.")
    elif not DATA.is_dir():
        raise SystemExit(f"gpu_study reads {DATA} (fundus4, isic9); it is absent.")
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    np.set_printoptions(precision=3)
    start = time.perf_counter()
    for part in (["fundus", "isic9"] if args.part == "all" else [args.part]):
        run_part(part, args, args.output)
    print(f"gpu_study finished in {(time.perf_counter() - start) / 60:.1f} min; tables under {args.output}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
