"""The faster joint step (channels-last ConvMixer, integer-mask dropout) keeps the loss of the implementation before it."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest
import torch

from monai_debclust.engines import DebClustTrainer
from monai_debclust.losses import JointDebClustLoss
from monai_debclust.networks import DebClustNet
from monai_debclust.networks.convmixer import IntegerMaskDropout

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "train.py"


def _as_reference():
    """``as_reference`` of ``benchmarks/train.py``: the implementation the benchmark compares against."""
    spec = importlib.util.spec_from_file_location("train_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.as_reference


def _step(network: DebClustNet, batch: dict) -> tuple[dict, torch.Tensor]:
    """One trainer iteration with SGD: the loss parts and the updated weights, flattened."""
    trainer = DebClustTrainer("cpu", 1, [batch], network, torch.optim.SGD(network.parameters(), lr=0.1),
                              JointDebClustLoss(gamma=5.0), num_clusters=3)
    trainer.run()
    return trainer.state.output, torch.cat([p.detach().flatten() for p in network.parameters()])


def test_joint_step_gives_the_reference_loss_and_update():
    torch.manual_seed(0)
    network = DebClustNet("convmixer", num_clusters=3, projection_hidden=32, projection_dim=16,
                          encoder_kwargs={"dim": 16, "depth": 2, "kernel_size": 5, "patch_size": 2, "dropout": 0.0})
    reference = _as_reference()(copy.deepcopy(network))
    assert not reference.encoder.channels_last and network.encoder.channels_last
    generator = torch.Generator().manual_seed(1)
    batch = {key: torch.rand(8, 3, 16, 16, generator=generator) for key in ("image", "view1", "view2")}

    initial = torch.cat([p.detach().flatten() for p in network.parameters()])
    found, weights = _step(network, batch)
    expected, reference_weights = _step(reference, batch)
    for part in ("loss", "contrastive", "clustering"):
        assert found[part] == pytest.approx(expected[part], rel=1e-5)
    assert (weights - initial).abs().max() > 1e-3  # the step moved the weights ...
    assert torch.allclose(weights, reference_weights, atol=1e-6)  # ... as the reference's step did


def test_integer_mask_dropout_drops_p_and_keeps_the_mean():
    torch.manual_seed(0)
    dropout = IntegerMaskDropout(0.04).train()
    x = torch.ones(16, 32, 16, 16).contiguous(memory_format=torch.channels_last)
    y = dropout(x)
    assert (y == 0).float().mean().item() == pytest.approx(0.04, abs=0.003)
    assert y.mean().item() == pytest.approx(1.0, abs=0.005)
    assert y.is_contiguous(memory_format=torch.channels_last)


def test_integer_mask_dropout_follows_the_torch_seed_and_is_off_in_evaluation():
    dropout = IntegerMaskDropout(0.5).train()
    x = torch.rand(4, 3, 8, 8)
    torch.manual_seed(3)
    first = dropout(x)
    torch.manual_seed(3)
    assert torch.equal(first, dropout(x)) and not torch.equal(first, x)
    assert torch.equal(dropout.eval()(x), x)


def test_integer_mask_dropout_refuses_a_probability_outside_zero_one():
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        IntegerMaskDropout(1.0)
