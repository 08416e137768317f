"""IntegerMaskDropout with dropout on: the output, gradient, loss and update of Bernoulli dropout with the same mask."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from monai_debclust.losses import JointDebClustLoss
from monai_debclust.networks import DebClustNet
from monai_debclust.networks.convmixer import IntegerMaskDropout


class ReplayedDropout(nn.Module):
    """``nn.Dropout``'s formula, ``x * keep / (1 - p)``, with the masks ``keep`` given in call order."""

    def __init__(self, p: float, masks: list[torch.Tensor]) -> None:
        super().__init__()
        self.p, self.masks = p, list(masks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.masks.pop(0).to(x.dtype) / (1 - self.p)


@pytest.mark.parametrize("p", [0.1, 0.5])
@pytest.mark.parametrize("channels_last", [False, True])
def test_output_and_gradient_are_bernoulli_dropouts_with_the_same_mask(p, channels_last):
    torch.manual_seed(0)
    x = (torch.rand(4, 8, 16, 16) + 0.5).requires_grad_()  # no zeros: a zero output means a dropped element
    source = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    y = IntegerMaskDropout(p).train()(source)
    keep = y.detach() != 0
    assert (1 - keep.float().mean()).item() == pytest.approx(p, abs=0.02)
    torch.testing.assert_close(y, x.detach() * keep / (1 - p), rtol=1e-6, atol=0)
    gradient = torch.randn(y.shape)
    (y * gradient).sum().backward()
    torch.testing.assert_close(x.grad, gradient * keep / (1 - p), rtol=1e-6, atol=0)


def test_neighbouring_elements_are_dropped_independently():
    # one 64-bit draw gives two elements their 32-bit halves: both must be independent
    torch.manual_seed(1)
    dropped = IntegerMaskDropout(0.5).train()(torch.ones(2**18)) == 0
    pairs = dropped.view(-1, 2)
    assert (pairs[:, 0] & pairs[:, 1]).float().mean().item() == pytest.approx(0.25, abs=0.005)
    assert (pairs[:, 0] == pairs[:, 1]).float().mean().item() == pytest.approx(0.5, abs=0.005)


def _step(network: DebClustNet, batch: dict) -> tuple[dict, torch.Tensor]:
    """One joint SGD step: the loss parts and the updated weights, flattened."""
    optimizer = torch.optim.SGD(network.parameters(), lr=0.1)
    outputs = network(batch["image"], batch["view1"], batch["view2"])
    parts = JointDebClustLoss(gamma=5.0)(outputs["z1"], outputs["z2"], outputs["q"])
    optimizer.zero_grad()
    parts["loss"].backward()
    optimizer.step()
    return {key: value.item() for key, value in parts.items()}, torch.cat(
        [p.detach().flatten() for p in network.parameters()])


def test_joint_step_with_dropout_on_gives_the_loss_and_update_of_bernoulli_dropout_with_the_same_mask():
    p = 0.2
    torch.manual_seed(0)
    network = DebClustNet("convmixer", num_clusters=3, projection_hidden=32, projection_dim=16,
                          encoder_kwargs={"dim": 16, "depth": 2, "kernel_size": 5, "patch_size": 2, "dropout": p})
    reference = copy.deepcopy(network)
    reference.encoder.channels_last = False
    generator = torch.Generator().manual_seed(1)
    batch = {key: torch.rand(8, 3, 16, 16, generator=generator) for key in ("image", "view1", "view2")}

    dropouts = [module for module in network.modules() if isinstance(module, IntegerMaskDropout)]
    assert len(dropouts) == 4 and network.encoder.channels_last
    masks: dict[nn.Module, list[torch.Tensor]] = {module: [] for module in dropouts}

    def record(module, inputs, output):
        assert (inputs[0] != 0).all()  # so a zero in the output is a dropped element, nothing else
        masks[module].append(output.detach() != 0)

    for module in dropouts:
        module.register_forward_hook(record)
    initial = torch.cat([p.detach().flatten() for p in network.parameters()])
    found, weights = _step(network, batch.copy())

    recorded = torch.cat([mask.flatten() for module in dropouts for mask in masks[module]])
    assert all(len(masks[module]) == 2 for module in dropouts)  # the image, then both views
    assert (1 - recorded.float().mean()).item() == pytest.approx(p, abs=0.01)  # the integer path ran
    names = {module: name for name, module in network.named_modules()}
    for module in dropouts:
        parent, _, child = names[module].rpartition(".")
        setattr(reference.get_submodule(parent), child, ReplayedDropout(p, masks[module]))
    expected, reference_weights = _step(reference, batch)

    for part in ("loss", "contrastive", "clustering"):
        assert found[part] == pytest.approx(expected[part], rel=1e-5)
    assert (weights - initial).abs().max() > 1e-3
    torch.testing.assert_close(weights, reference_weights, atol=1e-6, rtol=0)
