"""The recipes beyond the paper as bundle settings: each trains a tiny demo with finite losses, and does what it says."""

from __future__ import annotations

import math

import pytest
from monai.bundle import ConfigParser

from monai_debclust.bundle import build_temperature_schedule
from monai_debclust.losses import PartialOTTarget

from .test_bundles import REPO, TINY

RECIPES = {
    "cosine_temperature": {"temperature_schedule": "cosine"},
    "simclr_cosine_temperature": {"method": "simclr", "temperature_schedule": "cosine", "temperature_half_period": 3},
    "negatives_sum": {"negatives": "sum"},
    "partial_ot": {"target_strategy": "partial_ot", "target_update": "full", "target_interval": 2},
    "overclustering": {"num_clusters": 6},
}


def train(tmp_path, bundle: str = "refuge", **overrides) -> ConfigParser:
    """Train ``bundle`` in this process for 2 epochs of the tiny demo with ``overrides``; the parser after the run."""
    parser = ConfigParser()
    parser.read_config(str(REPO / "bundles" / bundle / "train.json"))
    parser.update({**TINY, "demo_size": 40, "epochs": 2, "val_interval": 100, "amp": False,
                   "output_dir": str(tmp_path), **overrides})
    parser.get_parsed_content("initialize")
    parser.get_parsed_content("run")
    return parser


@pytest.mark.slow
@pytest.mark.parametrize("recipe", list(RECIPES))
def test_each_recipe_trains_with_finite_losses(tmp_path, recipe):
    parser = train(tmp_path, **RECIPES[recipe])
    trainer, loss = parser.get_parsed_content("train#trainer"), parser.get_parsed_content("loss")
    assert trainer.state.epoch == 2
    assert all(math.isfinite(trainer.state.metrics[key]) for key in ("epoch_loss", "epoch_contrastive"))
    steps = trainer.state.iteration
    if "temperature_schedule" in RECIPES[recipe]:
        half = parser.get_parsed_content("temperature_half_period") or round(steps / 10) or 1
        assert loss.contrastive.temperature == pytest.approx(
            build_temperature_schedule("cosine", steps, half)(steps - 1))
        assert loss.contrastive.temperature != pytest.approx(parser.get_parsed_content("temperature"))
    else:
        assert loss.contrastive.temperature == pytest.approx(parser.get_parsed_content("temperature"))
    if recipe == "negatives_sum":
        assert loss.contrastive.negatives == "sum"
    if recipe == "partial_ot":
        target = loss.clustering.target_strategy
        assert isinstance(target, PartialOTTarget) and trainer.state.dec_target is not None
        # clustering starts at epoch 2 of 2 (warm-up 1), ramp over epochs - warm-up = 1 epoch: rho rose from 0.1
        ramp = trainer.state.epoch_length
        assert target.rho == pytest.approx(0.1 + 0.9 * (trainer.state.epoch_length - 1) / ramp)
    if recipe == "overclustering":
        evaluator = parser.get_parsed_content("validate#evaluator")
        evaluator.protocols = ("clustering",)
        evaluator.run()
        rows = evaluator.state.scores["protocols"]
        assert set(rows) == {"kmeans_overclustered", "head_overclustered"}
        assert 0 <= evaluator.state.metrics["head_overclustered_f1"] <= 1


def _messages(error: BaseException | None) -> str:
    """The messages of ``error`` and of the errors it was raised from (MONAI's parser wraps them)."""
    return "" if error is None else f"{error}\n{_messages(error.__cause__)}"


@pytest.mark.parametrize("settings, message", [
    ({"method": "simsiam", "temperature_schedule": "cosine"}, "SimSiamLoss has no temperature to schedule"),
    ({"temperature_schedule": "linear"}, "temperature_schedule must be null or one of"),
])
def test_a_schedule_that_cannot_apply_is_refused_with_its_setting_named(tmp_path, settings, message):
    with pytest.raises(Exception) as raised:
        train(tmp_path, **settings)
    assert message in _messages(raised.value)


@pytest.mark.parametrize("bundle", ["glaucoma1", "isic2018"])
def test_every_bundle_has_the_recipe_settings(bundle):
    parser = ConfigParser()
    parser.read_config(str(REPO / "bundles" / bundle / "train.json"))
    defaults = {key: parser[key] for key in ("temperature_schedule", "temperature_min", "temperature_max",
                                             "temperature_half_period", "negatives", "target_strategy",
                                             "ot_rho_start", "ot_epsilon")}
    assert defaults == {"temperature_schedule": None, "temperature_min": 0.1, "temperature_max": 1.0,
                        "temperature_half_period": None, "negatives": "mean", "target_strategy": "sharpen",
                        "ot_rho_start": 0.1, "ot_epsilon": 0.1}
    assert parser["loss"]["target_strategy"] == "@target_strategy"
