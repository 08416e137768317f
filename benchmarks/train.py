"""Training throughput of the joint objective: images per second through one DebClustTrainer step.

Each step runs the plain image and its two views through a DebClustNet (ConvMixer encoder),
computes the modified debiased contrastive + DEC loss (gamma 5, so both parts count) and
updates the weights with Adam. The batches are random tensors made in advance: this measures
the model and the loss, not the input pipeline (see ``benchmarks/data.py`` for that).

Rows: the refuge bundle's CPU defaults (read from ``bundles/refuge/train.json`` with
``device=cpu``) and the paper's ConvMixer 256/8 on 32 x 32 images, on the CPU; on CUDA, when
there is one, the paper configuration in float32 and with AMP. Each row runs twice: with the
reference implementation (:func:`as_reference`: the encoder as it was before the speed-ups,
PyTorch's ``nn.Dropout`` and the default memory layout) and with the current one, alternating
the two ``--repeats`` times and keeping each one's best, so that a noisy machine slows both alike.

    python benchmarks/train.py --iterations 10
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import NamedTuple

import torch
from ignite.engine import Events
from torch import nn
from monai.bundle import ConfigParser

from monai_debclust.engines import DebClustTrainer
from monai_debclust.losses import JointDebClustLoss
from monai_debclust.networks import DebClustNet
from monai_debclust.networks.convmixer import IntegerMaskDropout

BUNDLE = Path(__file__).resolve().parents[1] / "bundles" / "refuge" / "train.json"


class Setting(NamedTuple):
    name: str
    device: str
    amp: bool
    dim: int
    depth: int
    kernel_size: int
    patch_size: int
    image_size: int
    batch_size: int


def bundle_cpu_setting() -> Setting:
    """The refuge bundle's defaults as they resolve on a machine without CUDA."""
    parser = ConfigParser()
    parser.read_config(BUNDLE)
    parser["device"] = "cpu"
    values = {key: parser.get_parsed_content(key) for key in ("dim", "depth", "kernel_size", "patch_size",
                                                               "image_size", "batch_size")}
    return Setting("bundle CPU defaults", "cpu", False, **values)


def settings(batch_size: int) -> list[Setting]:
    paper = {"dim": 256, "depth": 8, "kernel_size": 7, "patch_size": 2, "image_size": 32, "batch_size": batch_size}
    rows = [bundle_cpu_setting(), Setting("paper ConvMixer 256/8", "cpu", False, **paper)]
    if torch.cuda.is_available():
        rows += [Setting("paper ConvMixer 256/8", "cuda", False, **paper),
                 Setting("paper ConvMixer 256/8", "cuda", True, **paper)]
    return rows


def as_reference(network: DebClustNet) -> DebClustNet:
    """``network`` turned, in place, into the implementation before the speed-ups (same weights).

    Its ConvMixer drops with ``nn.Dropout`` and runs in the default memory layout; everything else
    is unchanged.
    """
    for module in network.modules():
        for name, child in module.named_children():
            if isinstance(child, IntegerMaskDropout):
                setattr(module, name, nn.Dropout(child.p))
    network.encoder.channels_last = False
    return network


def images_per_second(setting: Setting, iterations: int, warmup: int, reference: bool) -> tuple[float, float]:
    """``(images/s, seconds per step)`` over ``iterations`` steps after ``warmup`` untimed ones."""
    torch.manual_seed(0)
    network = DebClustNet("convmixer", num_clusters=2, encoder_kwargs={
        "dim": setting.dim, "depth": setting.depth, "kernel_size": setting.kernel_size,
        "patch_size": setting.patch_size}).to(setting.device)
    if reference:
        as_reference(network)
    shape = (setting.batch_size, 3, setting.image_size, setting.image_size)
    batch = {key: torch.rand(shape) for key in ("image", "view1", "view2")}
    trainer = DebClustTrainer(setting.device, 1, [batch] * (warmup + iterations), network,
                              torch.optim.Adam(network.parameters(), lr=1e-3), JointDebClustLoss(gamma=5.0),
                              num_clusters=2, amp=setting.amp)
    marks = {}

    def mark(engine):
        if setting.device == "cuda":
            torch.cuda.synchronize()
        marks[engine.state.iteration] = time.perf_counter()

    trainer.add_event_handler(Events.ITERATION_COMPLETED, mark)
    trainer.run()
    seconds = (marks[warmup + iterations] - marks[warmup]) / iterations
    return setting.batch_size / seconds, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10, help="timed steps per row")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=32, help="batch of the paper rows")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each implementation; the best is kept")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"CUDA: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}")
    header = (f"{'setting':<22} {'device':<6} {'amp':<5} {'encoder':<9} {'image':>5} {'batch':>5} "
              f"{'reference img/s':>15} {'current img/s':>13} {'speed-up':>8}")
    print(header)
    print("-" * len(header))
    for setting in settings(args.batch_size):
        best = {True: 0.0, False: 0.0}
        for _ in range(args.repeats):
            for reference in best:
                rate, _ = images_per_second(setting, args.iterations, args.warmup, reference)
                best[reference] = max(best[reference], rate)
        encoder = f"{setting.dim}/{setting.depth}"
        print(f"{setting.name:<22} {setting.device:<6} {str(setting.amp):<5} {encoder:<9} {setting.image_size:>5} "
              f"{setting.batch_size:>5} {best[True]:>15.1f} {best[False]:>13.1f} {best[False] / best[True]:>7.2f}x",
              flush=True)


if __name__ == "__main__":
    main()
