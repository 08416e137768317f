"""Randomness of a training epoch as a function of (seed, epoch, rank), so that resumes repeat it exactly."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sized

import numpy as np
import torch
import torch.distributed as dist
from ignite.engine import Engine, Events
from monai.transforms import Randomizable
from torch.utils.data import Sampler

__all__ = ["EpochSeedHandler", "EpochShuffleSampler", "epoch_seed"]

_SEED_RANGE = 2**32


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """A 32-bit seed for ``epoch`` of a run seeded ``seed``, distinct for every epoch and rank."""
    return (seed * 1_000_003 + epoch * 7_919 + rank * 104_729) % _SEED_RANGE


class EpochShuffleSampler(Sampler[int]):
    """A random order of ``data_source`` that depends on ``(seed, epoch)`` only.

    ``RandomSampler`` draws its order from a generator whose state depends on when the data
    loader's iterators were started and exhausted, which differs between an uninterrupted run
    and a resumed one; this order is recomputed from :func:`epoch_seed` whenever an epoch starts
    iterating. :class:`EpochSeedHandler` calls :meth:`set_epoch` at the start of every epoch.

    Args:
        data_source: the training dataset (only its length is used).
        seed: the run's seed.
    """

    def __init__(self, data_source: Sized, seed: int = 0) -> None:
        self.data_source, self.seed, self.epoch = data_source, int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.data_source)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
        return iter(torch.randperm(len(self.data_source), generator=generator).tolist())


class EpochSeedHandler:
    """Re-seed every source of randomness of a training epoch at its start, from the seed and the epoch.

    MONAI's ``set_determinism`` seeds a run once, at its start; a run resumed from the checkpoint
    of epoch ``e`` would then draw epoch ``e + 1``'s shuffling, augmentations and dropout from
    the run's *first* random numbers, not from those an uninterrupted run would have reached.
    With this handler epoch ``e`` always draws from :func:`epoch_seed` ``(seed, e, rank)``:

    * the global ``torch``, NumPy and ``random`` generators (dropout, anything unseeded);
    * ``sampler``: the training sampler's epoch (``set_epoch``, as :class:`EpochShuffleSampler`
      and ``DistributedSampler`` have), which fixes the order of the epoch's images;
    * ``transform``: the training transforms' own generators (``set_random_state``), when they
      run in this process (``num_workers=0``).

    The data loader needs a generator of its own (``generator=torch.Generator()``): it draws a
    seed for its workers when it starts an epoch, which after a resume happens after this
    handler has run, and from the global generator that draw would shift the epoch's dropout.
    So on the CPU with ``num_workers=0`` a resumed run repeats an uninterrupted one exactly. With
    worker processes, the workers of an epoch are seeded from the data loader's generator when
    the loader starts that epoch, which after a resume is a different moment, so the first epoch
    after a resume has other augmentations; on CUDA, kernels without a deterministic
    implementation differ in the last bits (see ``docs/method.md``).

    Args:
        seed: the run's seed.
        sampler: the training data loader's sampler, or None.
        transform: the training transforms, or None.
    """

    def __init__(self, seed: int, sampler: Sampler | None = None, transform: object | None = None) -> None:
        self.seed, self.sampler, self.transform = int(seed), sampler, transform

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self.epoch_started)

    def epoch_started(self, engine: Engine) -> None:
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        seed = epoch_seed(self.seed, engine.state.epoch, rank)
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        if callable(getattr(self.sampler, "set_epoch", None)):
            self.sampler.set_epoch(engine.state.epoch)
        if isinstance(self.transform, Randomizable):
            self.transform.set_random_state(seed=seed)
