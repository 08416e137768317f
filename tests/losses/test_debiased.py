"""Golden values, gradients and settings of the two debiased contrastive losses."""

from __future__ import annotations

import math

import pytest
import torch

from monai_debclust.losses import DebiasedContrastiveLoss, ModifiedDebiasedContrastiveLoss

CASES = ["case1", "case2_clamp"]
# terms() key -> key of the golden intermediates
INTERMEDIATES = {
    "positive_cosine": "positive_cosine",
    "S": "S_mean_negative_exp_per_view_anchor",
    "g": "g_clamped_per_view_anchor",
    "D": "D",
    "pos": "pos_exp",
    "L_i": "L_i",
}


def views(case: dict) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(case["view1"], dtype=torch.float64), torch.tensor(case["view2"], dtype=torch.float64)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(
    "key, kwargs",
    [
        ("loss", {}),
        ("loss_literal_exp_sim_without_tau_in_correction", {"literal_correction": True}),
        ("loss_lambda_1", {"lambda_mod": 1.0}),
    ],
)
def test_modified_matches_golden_loss(golden, name, key, kwargs):
    case = golden[name]
    params = case["params"]
    loss = ModifiedDebiasedContrastiveLoss(temperature=params["temperature"], tau_plus=params["tau_plus"], **kwargs)
    assert loss(*views(case)).item() == pytest.approx(case["modified_debiased"][key], abs=1e-6)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("term", INTERMEDIATES)
def test_modified_matches_golden_intermediates(golden, name, term):
    case = golden[name]
    expected = torch.tensor(case["modified_debiased"]["intermediates"][INTERMEDIATES[term]], dtype=torch.float64)
    got = ModifiedDebiasedContrastiveLoss().terms(*views(case))[term]
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


def test_golden_case2_exercises_the_clamp(golden):
    terms = ModifiedDebiasedContrastiveLoss().terms(*views(golden["case2_clamp"]))
    floor = torch.exp(torch.tensor(-1 / 0.5, dtype=torch.float64))
    unclamped = (terms["S"] - 0.1 * terms["pos"].repeat(2)) / 0.9
    assert (unclamped < floor).any() and torch.equal(terms["g"] >= floor, torch.ones(6, dtype=torch.bool))


@pytest.mark.parametrize("name", CASES)
def test_chuang_matches_golden(golden, name):
    case = golden[name]
    assert DebiasedContrastiveLoss()(*views(case)).item() == pytest.approx(case["debiased_chuang_reference"], abs=1e-6)


@pytest.mark.parametrize(
    "loss",
    [
        ModifiedDebiasedContrastiveLoss(),
        ModifiedDebiasedContrastiveLoss(literal_correction=True),
        DebiasedContrastiveLoss(),
    ],
    ids=["modified", "modified-literal", "chuang"],
)
def test_gradcheck_float64(loss):
    generator = torch.Generator().manual_seed(0)
    z1, z2 = (torch.randn(4, 3, generator=generator, dtype=torch.float64, requires_grad=True) for _ in range(2))
    assert torch.autograd.gradcheck(loss, (z1, z2))


def test_modified_gradcheck_through_the_clamp(golden):
    z1, z2 = (v.requires_grad_() for v in views(golden["case2_clamp"]))
    assert torch.autograd.gradcheck(ModifiedDebiasedContrastiveLoss(), (z1, z2))


def test_modified_reductions_follow_the_per_image_terms():
    z1, z2 = torch.randn(5, 4), torch.randn(5, 4)
    per_image = ModifiedDebiasedContrastiveLoss(reduction="none")(z1, z2)
    assert per_image.shape == (5,)
    torch.testing.assert_close(ModifiedDebiasedContrastiveLoss(reduction="sum")(z1, z2), per_image.sum())
    torch.testing.assert_close(ModifiedDebiasedContrastiveLoss(reduction="mean")(z1, z2), per_image.sum() / 10)


def test_chuang_reductions_are_over_the_view_anchors():
    z1, z2 = torch.randn(5, 4), torch.randn(5, 4)
    per_anchor = DebiasedContrastiveLoss(reduction="none")(z1, z2)
    assert per_anchor.shape == (10,)
    torch.testing.assert_close(DebiasedContrastiveLoss(reduction="sum")(z1, z2), per_anchor.sum())
    torch.testing.assert_close(DebiasedContrastiveLoss()(z1, z2), per_anchor.mean())


def test_chuang_sums_the_same_clamped_estimator_the_modified_loss_averages():
    # l_a = log(1 + Ng_a / pos_a) with Ng_a = (2N - 2) g_a, g_a the modified loss's per-anchor g
    z1, z2 = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    terms = ModifiedDebiasedContrastiveLoss().terms(z1, z2)
    per_anchor = DebiasedContrastiveLoss(reduction="none")(z1, z2)
    pos = terms["pos"].repeat(2)
    torch.testing.assert_close(per_anchor, torch.log1p(4 * terms["g"] / pos))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temperature": 0.0}, "temperature"),
        ({"tau_plus": 1.0}, "tau_plus"),
        ({"tau_plus": -0.1}, "tau_plus"),
        ({"lambda_mod": 0.0}, "lambda_mod"),
        ({"reduction": "batchmean"}, "batchmean"),
    ],
)
def test_modified_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModifiedDebiasedContrastiveLoss(**kwargs)


@pytest.mark.parametrize("kwargs, match", [({"temperature": -1.0}, "temperature"), ({"tau_plus": 1.5}, "tau_plus")])
def test_chuang_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DebiasedContrastiveLoss(**kwargs)


def test_modified_stays_finite_and_accurate_at_tiny_temperature():
    generator = torch.Generator().manual_seed(1)
    z1 = torch.randn(16, 8, generator=generator)
    z2 = z1 + 0.3 * torch.randn(16, 8, generator=generator)
    loss = ModifiedDebiasedContrastiveLoss(temperature=0.01)
    got, expected = loss(z1, z2), loss(z1.double(), z2.double())
    assert torch.isfinite(got) and got.item() == pytest.approx(expected.item(), rel=1e-4)


def summed_negatives_reference(z1, z2, temperature, tau_plus, lambda_mod):
    """The modified loss with Chuang et al.'s summed estimator, written out anchor by anchor in float64."""
    n = z1.shape[0]
    z = torch.nn.functional.normalize(torch.cat([z1, z2]).double(), dim=1)
    similarity = torch.exp(z @ z.T / temperature)
    floor = (2 * n - 2) * math.exp(-1 / temperature)
    estimator = []
    for a in range(2 * n):
        partner = (a + n) % (2 * n)
        negatives = sum(similarity[a, b] for b in range(2 * n) if b not in (a, partner))
        corrected = (negatives - tau_plus * (2 * n - 2) * similarity[a, partner]) / (1 - tau_plus)
        estimator.append(max(floor, corrected.item()))
    total = 0.0
    for i in range(n):
        pos = similarity[i, i + n].item()
        d = estimator[i] + estimator[i + n]
        total += -2 * math.log(pos / (pos + (1 + d) ** lambda_mod))
    return total / (2 * n)


@pytest.mark.parametrize("temperature, lambda_mod", [(0.5, 2.0), (0.2, 1.0), (1.0, 1.5)])
def test_summed_negatives_match_a_float64_reference(temperature, lambda_mod):
    generator = torch.Generator().manual_seed(7)
    z1 = torch.randn(5, 4, generator=generator, dtype=torch.float64)
    z2 = z1 + 0.5 * torch.randn(5, 4, generator=generator, dtype=torch.float64)
    loss = ModifiedDebiasedContrastiveLoss(temperature, 0.1, lambda_mod, negatives="sum")
    expected = summed_negatives_reference(z1, z2, temperature, 0.1, lambda_mod)
    assert loss(z1, z2).item() == pytest.approx(expected, rel=1e-10)
    assert ModifiedDebiasedContrastiveLoss(temperature, 0.1, lambda_mod)(z1, z2).item() != pytest.approx(expected)


def test_summed_negatives_reach_the_floor_on_chuangs_scale(golden):
    # case2 clamps some anchors: there g is the summed floor (2N - 2) exp(-1/tau)
    z1, z2 = views(golden["case2_clamp"])
    mean_g = ModifiedDebiasedContrastiveLoss().terms(z1, z2)["g"]
    summed = ModifiedDebiasedContrastiveLoss(negatives="sum").terms(z1, z2)
    torch.testing.assert_close(summed["g"], 4 * mean_g)
    assert summed["g"].min().item() == pytest.approx(4 * math.exp(-2))
    assert torch.autograd.gradcheck(ModifiedDebiasedContrastiveLoss(negatives="sum"),
                                    (z1.clone().requires_grad_(), z2.clone().requires_grad_()))


def test_rejects_an_unknown_reading_of_the_negatives():
    with pytest.raises(ValueError, match="negatives"):
        ModifiedDebiasedContrastiveLoss(negatives="max")
