"""Time and memory of ModifiedDebiasedContrastiveLoss beside a naive reference of the same loss.

The reference is written here in the style of Chuang et al.'s published debiased loss: it builds
the full ``(2N, 2N)`` matrix of ``exp(sim / tau)``, gathers the negatives into a ``(2N, 2N - 2)``
tensor by boolean masking and takes the logarithm of the ratio at the end (no log space). The
script first checks that both give the same loss and gradients, then measures each in a fresh
subprocess:

* time: median over ``--repeats`` of one forward + backward (after one untimed run);
* memory: on CPU, the growth of the process's peak resident set size (``VmHWM`` in
  ``/proc/self/status``, reset through ``/proc/self/clear_refs``) during the first forward +
  backward at that size (after a tiny warm-up pass that pays the one-time start-up costs), i.e.
  the memory the pass really touched, allocator overheads included; on CUDA,
  ``torch.cuda.max_memory_allocated`` minus the memory allocated before the pass.

Usage::

    python benchmarks/losses.py --sizes 256 1024 4096 --dim 128 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from monai_debclust.losses import ModifiedDebiasedContrastiveLoss

TEMPERATURE, TAU_PLUS, LAMBDA = 0.5, 0.1, 2.0


def reference_loss(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """The modified debiased loss written the straightforward way (full exp matrix, gathered negatives)."""
    n = z1.shape[0]
    out = F.normalize(torch.cat([z1, z2]), dim=1)
    exp_sim = torch.exp(out @ out.T / TEMPERATURE)
    negatives_mask = ~torch.eye(n, dtype=torch.bool, device=z1.device).repeat(2, 2)
    negatives = exp_sim.masked_select(negatives_mask).view(2 * n, 2 * n - 2)
    pos = torch.exp((out[:n] * out[n:]).sum(dim=1) / TEMPERATURE)
    g = ((negatives.mean(dim=1) - TAU_PLUS * pos.repeat(2)) / (1 - TAU_PLUS)).clamp(min=math.exp(-1 / TEMPERATURE))
    d = g[:n] + g[n:]
    per_image = -2 * torch.log(pos / (pos + (1 + d) ** LAMBDA))
    return per_image.sum() / (2 * n)


IMPLEMENTATIONS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "modified (ours)": ModifiedDebiasedContrastiveLoss(TEMPERATURE, TAU_PLUS, LAMBDA),
    "naive reference": reference_loss,
}


def make_views(size: int, dim: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(size)
    z1 = torch.randn(size, dim, generator=generator)
    z2 = z1 + 0.5 * torch.randn(size, dim, generator=generator)
    return z1.to(device).requires_grad_(), z2.to(device).requires_grad_()


def forward_backward(loss_fn: Callable, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    z1.grad = z2.grad = None
    loss = loss_fn(z1, z2)
    loss.backward()
    return loss.detach()


def check_agreement(size: int, dim: int, device: str) -> float:
    """Largest relative difference between the two implementations over the loss and both gradients."""
    results = []
    for loss_fn in IMPLEMENTATIONS.values():
        z1, z2 = make_views(size, dim, device)
        results.append([forward_backward(loss_fn, z1, z2), z1.grad, z2.grad])
    worst = max(float((a - b).norm() / b.norm()) for a, b in zip(*results))
    if worst > 1e-4:
        raise AssertionError(f"implementations disagree at batch {size}: relative difference {worst:.2e}")
    return worst


def _read_status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure(name: str, size: int, dim: int, device: str, repeats: int) -> dict[str, float]:
    """Run in a fresh process: peak memory of the first pass (MiB), then the median time (s)."""
    loss_fn = IMPLEMENTATIONS[name]
    forward_backward(loss_fn, *make_views(8, dim, device))  # one-time costs (library and autograd start-up)
    z1, z2 = make_views(size, dim, device)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        forward_backward(loss_fn, z1, z2)
        peak_bytes = torch.cuda.max_memory_allocated() - before
    else:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS
        before = _read_status_kib("VmRSS")
        forward_backward(loss_fn, z1, z2)
        peak_bytes = (_read_status_kib("VmHWM") - before) * 1024
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward_backward(loss_fn, z1, z2)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "peak_mib": peak_bytes / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096], help="batch sizes N")
    parser.add_argument("--dim", type=int, default=128, help="projection dimension D")
    parser.add_argument("--repeats", type=int, default=5, help="timed forward+backward passes per setting")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.worker:
        print(json.dumps(measure(args.worker, args.sizes[0], args.dim, args.device, args.repeats)))
        return

    settings = f"device={args.device} threads={args.threads} dim={args.dim} repeats={args.repeats}"
    print(f"{settings} torch={torch.__version__}")
    header = f"{'N':>6} {'implementation':<16} {'fwd+bwd ms':>11} {'peak MiB':>9} {'time ratio':>11} {'mem ratio':>10}"
    print(header + f"  {'max rel diff':>12}")
    for size in args.sizes:
        difference = check_agreement(size, args.dim, args.device)
        rows = {}
        for name in IMPLEMENTATIONS:
            command = [sys.executable, __file__, "--worker", name, "--sizes", str(size), "--dim", str(args.dim),
                       "--repeats", str(args.repeats), "--device", args.device, "--threads", str(args.threads)]
            rows[name] = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        ours = rows["modified (ours)"]
        for name, row in rows.items():
            time_ratio = row["seconds"] / ours["seconds"]
            mem_ratio = row["peak_mib"] / ours["peak_mib"] if ours["peak_mib"] > 0 else float("nan")
            print(f"{size:>6} {name:<16} {row['seconds'] * 1e3:>11.1f} {row['peak_mib']:>9.1f} "
                  f"{time_ratio:>10.2f}x {mem_ratio:>9.2f}x  {difference:>12.1e}")
    print("ratios: implementation / ours (above 1: ours is faster or smaller)")


if __name__ == "__main__":
    main()
