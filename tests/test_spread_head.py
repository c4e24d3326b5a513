"""model.output: gaussian: the Gaussian scores, the spread head on every backbone, the CRPS / NLL
criteria of the Trainer and the learned standard deviation against a known noise level."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from engine_toy import meta_of, tec_datasets, tiny_model
from geostl.engine import (
    Trainer,
    build_model_from_checkpoint,
    save_checkpoint,
    total_loss,
    validation_loss,
)
from geostl.engine.checkpoint import model_description
from geostl.engine.loss import masked_error_sum
from geostl.metrics.crps import crps_gaussian, gaussian_nll
from geostl.models import build_forecaster, count_parameters
from geostl.models.spread_head import GaussianSpreadHead

properscoring = pytest.importorskip("properscoring")

META = {
    "t_in": 3,
    "t_out": 4,
    "target_channels": 2,
    "forcing_channels": 1,
    "static_channels": 1,
    "height": 8,
    "width": 8,
}
BACKBONES = {
    "convlstm": {"name": "convlstm", "num_hidden": [6], "filter_size": 3, "patch_size": 2},
    "simvp": {"name": "simvp", "hid_S": 4, "hid_T": 8, "N_S": 2, "N_T": 2, "mlp_ratio": 2.0},
}


def _batch(meta=META, b=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    t_in, t_out, c = meta["t_in"], meta["t_out"], meta["target_channels"]
    f, s, h, w = (meta[k] for k in ("forcing_channels", "static_channels", "height", "width"))
    return {
        "inputs": torch.randn(b, t_in, c, h, w, generator=g),
        "targets": torch.randn(b, t_out, c, h, w, generator=g),
        "target_mask": torch.rand(b, t_out, c, h, w, generator=g) > 0.2,
        "forcings_in": torch.randn(b, t_in, f, h, w, generator=g),
        "forcings_out": torch.randn(b, t_out, f, h, w, generator=g),
        "static": torch.randn(b, s, h, w, generator=g),
    }


# -- the elementwise scores -------------------------------------------------------------------
def _random_cases(n=500, seed=0):
    rng = np.random.default_rng(seed)
    mean = rng.normal(0.0, 3.0, n)
    std = np.exp(rng.normal(0.0, 1.0, n))
    obs = mean + std * rng.normal(0.0, 2.0, n)
    return mean, std, obs


def test_crps_gaussian_matches_properscoring():
    mean, std, obs = _random_cases()
    ours = crps_gaussian(*(torch.tensor(a, dtype=torch.float64) for a in (mean, std, obs)))
    ref = properscoring.crps_gaussian(obs, mu=mean, sig=std)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-9, atol=1e-12)


def test_gaussian_nll_matches_scipy():
    mean, std, obs = _random_cases(seed=1)
    ours = gaussian_nll(*(torch.tensor(a, dtype=torch.float64) for a in (mean, std, obs)))
    ref = -norm.logpdf(obs, loc=mean, scale=std)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-9, atol=1e-12)


def test_hand_worked_values():
    zero, one = torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64)
    # N(0, 1) at 0: 2 phi(0) - 1 / sqrt(pi) = sqrt(2 / pi) - 1 / sqrt(pi)
    assert float(crps_gaussian(zero, one, zero)) == pytest.approx(0.2336949772, abs=1e-9)
    assert float(crps_gaussian(zero, one, zero)) == pytest.approx(
        math.sqrt(2 / math.pi) - 1 / math.sqrt(math.pi), abs=1e-15
    )
    # the negative log density of N(0, 1) at 0 is log(2 pi) / 2
    assert float(gaussian_nll(zero, one, zero)) == pytest.approx(0.5 * math.log(2 * math.pi))


# -- the spread head in the Forecaster --------------------------------------------------------
def _head_parameters(c: int, hidden: int = 16, t_out: int = 4) -> int:
    # two 3x3 convs with biases, and the offset per lead and channel
    return (3 * c + 1) * hidden * 9 + hidden + hidden * c * 9 + c + t_out * c


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_gaussian_forecaster_gives_a_positive_std_of_the_pred_shape(name):
    cfg = {"backbone": BACKBONES[name], "fusion": "concat"}
    torch.manual_seed(0)
    point = build_forecaster(cfg, META)
    torch.manual_seed(0)
    gauss = build_forecaster({**cfg, "output": "gaussian"}, META)
    assert count_parameters(gauss) - count_parameters(point) == _head_parameters(2)
    assert count_parameters(gauss.spread_head) == _head_parameters(2)
    batch = _batch()
    gauss.train()
    out = gauss(batch, teacher_forcing=1.0)
    assert "pred_std" not in point(batch, teacher_forcing=1.0)
    assert out["pred_std"].shape == out["pred"].shape == (2, 4, 2, 8, 8)
    assert out["pred_std"].dtype == torch.float32
    # untrained: 0.1 everywhere (readout weights zero, bias softplus^-1(0.1 - 1e-4))
    torch.testing.assert_close(out["pred_std"], torch.full_like(out["pred_std"], 0.1))
    loss, parts = total_loss(out, batch, criterion="crps")
    loss.backward()
    assert set(parts) == {"crps"} and math.isfinite(parts["crps"])
    head_grads = [p.grad for p in gauss.spread_head.parameters()]
    assert head_grads[-1] is not None and float(head_grads[-1].abs().sum()) > 0
    # a longer rollout: the lead plane goes past 1, the std still has the pred shape
    gauss.eval()
    with torch.no_grad():
        longer = gauss({**batch, "forcings_out": torch.randn(2, 6, 1, 8, 8)}, t_out=6)
    assert longer["pred_std"].shape == (2, 6, 2, 8, 8) and bool((longer["pred_std"] > 0).all())


def test_head_sees_the_lead_the_last_input_and_the_mean():
    torch.manual_seed(0)
    head = GaussianSpreadHead(channels=1, t_out=3, hidden=4)
    with torch.no_grad():
        head.readout.weight.normal_(0.0, 0.5)
    pred = torch.zeros(1, 3, 1, 5, 5)
    last = torch.zeros(1, 1, 5, 5)
    std = head(pred, last)
    assert not torch.allclose(std[:, 0], std[:, 2])  # the lead plane differs between leads
    assert not torch.allclose(head(pred, last + 1.0), std)
    assert not torch.allclose(head(pred + 1.0, last), std)
    with pytest.raises(ValueError, match="GaussianSpreadHead"):
        head(torch.zeros(1, 3, 2, 5, 5), last)


def test_sun_fixed_frame_head_sees_the_geographic_pred_and_last_input():
    lon = np.arange(-180.0, 180.0, 22.5)
    meta = {**META, "target_channels": 1, "width": lon.size, "lon": lon.tolist(),
            "time_step_hours": 1.0}  # fmt: skip
    cfg = {"backbone": {**BACKBONES["convlstm"], "patch_size": 1}, "residual": "last",
           "frame": "sun_fixed", "output": "gaussian"}  # fmt: skip
    torch.manual_seed(0)
    model = build_forecaster(cfg, meta).eval()
    with torch.no_grad():  # a head that is not constant, so the frame matters
        model.spread_head.readout.weight.normal_(0.0, 0.5)
        for p in model.backbone.parameters():
            p.add_(0.05 * torch.randn_like(p))
    batch = _batch(meta)
    with torch.no_grad():
        out = model(batch)
        expected = model.spread_head(out["pred"], batch["inputs"][:, -1])
    assert not torch.allclose(expected, torch.full_like(expected, 0.1))
    torch.testing.assert_close(out["pred_std"], expected, rtol=0, atol=0)


def test_checkpoint_round_trip_rebuilds_the_spread_head(tmp_path):
    cfg = {"backbone": BACKBONES["simvp"], "fusion": "concat", "output": "gaussian",
           "spread_hidden": 5}  # fmt: skip
    torch.manual_seed(0)
    model = build_forecaster(cfg, META)
    with torch.no_grad():
        model.spread_head.readout.weight.normal_(0.0, 0.3)
    save_checkpoint(tmp_path / "m.pt", {"model": model_description(model)})
    rebuilt = build_model_from_checkpoint(tmp_path / "m.pt")
    assert rebuilt.constructor_args()[0]["output"] == "gaussian"
    assert rebuilt.spread_head is not None and rebuilt.spread_head.hidden == 5
    assert count_parameters(rebuilt) == count_parameters(model)
    batch = _batch()
    model.eval()
    rebuilt.eval()
    with torch.no_grad():
        a, b = model(batch), rebuilt(batch)
    assert torch.equal(a["pred"], b["pred"]) and torch.equal(a["pred_std"], b["pred_std"])


# -- the criteria -----------------------------------------------------------------------------
def test_masked_scores_skip_masked_elements_and_nan_targets():
    batch = _batch()
    g = torch.Generator().manual_seed(3)
    pred = torch.randn(2, 4, 2, 8, 8, generator=g, requires_grad=True)
    std = (0.5 + torch.rand(2, 4, 2, 8, 8, generator=g)).requires_grad_(True)
    mask = batch["target_mask"]
    target = batch["targets"].masked_fill(~mask, math.nan)
    for name, score in (("crps", crps_gaussian), ("nll", gaussian_nll)):
        total, count = masked_error_sum(pred, target, mask, name, std)
        want = score(pred[mask], std[mask], target[mask]).sum()
        torch.testing.assert_close(total, want)
        assert float(count) == float(mask.sum())
        (grad_pred, grad_std) = torch.autograd.grad(total, (pred, std))
        assert bool(torch.isfinite(grad_pred).all() and torch.isfinite(grad_std).all())
        assert float(grad_pred[~mask].abs().sum()) == 0 and float(grad_std[~mask].abs().sum()) == 0
    with pytest.raises(ValueError, match="train.criterion nll needs model.output: gaussian"):
        masked_error_sum(pred, target, mask, "nll")


def test_criterion_crps_needs_a_gaussian_model(tmp_path):
    ds, _, _ = tec_datasets(t_out=4)
    point = tiny_model(ds["train"])
    with pytest.raises(ValueError, match="train.criterion crps needs model.output: gaussian"):
        Trainer(point, ds, {"criterion": "crps"}, None, tmp_path / "a", progress=False)
    out = {"pred": torch.zeros(2, 4, 2, 8, 8), "aux_losses": {}}
    with pytest.raises(ValueError, match="train.criterion nll needs model.output: gaussian"):
        total_loss(out, _batch(), criterion="nll")


@pytest.mark.parametrize("criterion", ["mse", "mae"])
def test_gaussian_model_needs_a_probabilistic_criterion(tmp_path, criterion):
    ds, _, _ = tec_datasets(t_out=4)
    cfg = {"backbone": {**BACKBONES["convlstm"], "patch_size": 1}, "output": "gaussian"}
    model = build_forecaster(cfg, meta_of(ds["train"]))
    with pytest.raises(ValueError, match=rf"model.output: gaussian .*train.criterion {criterion}"):
        Trainer(model, ds, {"criterion": criterion}, None, tmp_path / "b", progress=False)


def test_crps_training_on_the_tec_sample_lowers_the_loss(tmp_path):
    ds, _, _ = tec_datasets(t_out=4)
    cfg = {"backbone": {**BACKBONES["convlstm"], "num_hidden": [4], "patch_size": 1},
           "residual": "last", "output": "gaussian"}  # fmt: skip
    torch.manual_seed(0)
    model = build_forecaster(cfg, meta_of(ds["train"]))
    before = validation_loss(model, ds["val"], 8, criterion="crps")
    train = {"epochs": 2, "batch_size": 4, "max_steps_per_epoch": 5, "lr": 0.003,
             "schedule": "constant", "scheduled_sampling": None, "criterion": "crps"}  # fmt: skip
    summary = Trainer(model, ds, train, None, tmp_path / "tec", progress=False, quiet=True).fit()
    vals = [r["val_loss"] for r in summary["history"]]
    # the Trainer's validation is the CRPS (not the MSE) of the val split
    assert vals[-1] == pytest.approx(validation_loss(model, ds["val"], 8, criterion="crps"))
    assert vals[-1] != pytest.approx(validation_loss(model, ds["val"], 8, criterion="mse"))
    assert summary["best_val_loss"] < 0.8 * before, (before, vals)


def test_the_initial_spread_is_the_untrained_forecasts_rmse():
    """fit_baseline sets the head's std per lead to the RMSE of the untrained mean forecast
    over the train windows (computed here independently, over every window)."""
    ds, _, _ = tec_datasets(t_out=4)
    cfg = {"backbone": {**BACKBONES["convlstm"], "num_hidden": [4], "patch_size": 1},
           "residual": "last", "output": "gaussian"}  # fmt: skip
    torch.manual_seed(0)
    model = build_forecaster(cfg, meta_of(ds["train"])).eval()
    train = ds["train"]
    lines = model.fit_baseline(train, ds["val"], batch_size=8)
    assert any("spread head" in line for line in lines)
    se, n = torch.zeros(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    picks = sorted({int(i) for i in torch.linspace(0, len(train) - 1, min(len(train), 64)).round()})
    stds = []
    with torch.no_grad():
        for i in picks:
            b = {k: v[None] for k, v in train[i].items()}
            out = model(b)
            d = torch.where(b["target_mask"], out["pred"].double() - b["targets"].double(), 0.0)
            se += (d * d).sum(dim=(0, 2, 3, 4))
            n += b["target_mask"].sum(dim=(0, 2, 3, 4))
            stds.append(out["pred_std"][0, :, 0].double().mean(dim=(-1, -2)))
    torch.testing.assert_close(torch.stack(stds).mean(0), torch.sqrt(se / n), rtol=1e-4, atol=0)


# -- the learned spread against a known noise -------------------------------------------------
NOISE = (0.25, 0.75)  # normalised units: std of the noise where the last map is < 0, > 0
TOY_META = {"t_in": 2, "t_out": 2, "target_channels": 1, "forcing_channels": 0,
            "static_channels": 0, "height": 8, "width": 8}  # fmt: skip


class NoisyPersistence(torch.utils.data.Dataset):
    """Targets = the last input map (predictable: persistence) + Gaussian noise whose std
    depends on the sign of the last map (NOISE); the top row is masked out (NaN targets)."""

    t_in, t_out = 2, 2

    def __init__(self, n: int, seed: int, hw: int = 8) -> None:
        g = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(n, 2, 1, hw, hw, generator=g)
        last = self.inputs[:, -1:].expand(n, 2, 1, hw, hw)
        self.sigma = torch.where(last > 0, NOISE[1], NOISE[0])
        self.targets = last + self.sigma * torch.randn(n, 2, 1, hw, hw, generator=g)
        self.mask = torch.ones(n, 2, 1, hw, hw, dtype=torch.bool)
        self.mask[..., 0, :] = False
        self.targets = self.targets.masked_fill(~self.mask, math.nan)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"inputs": self.inputs[i], "targets": self.targets[i], "target_mask": self.mask[i]}

    def description(self, data_cfg) -> dict:  # what the Trainer's checkpoints store
        return {"config": None}


@pytest.mark.parametrize("criterion", ["crps", "nll"])
def test_learned_std_tracks_the_noise(tmp_path, criterion):
    """The fitted start is one std for all (the pooled error); training must learn that the
    noise is three times larger where the last map is positive."""
    ds = {"train": NoisyPersistence(256, seed=0), "val": NoisyPersistence(32, seed=1)}
    cfg = {"backbone": BACKBONES["convlstm"], "fusion": "none", "residual": "last",
           "output": "gaussian"}  # fmt: skip
    torch.manual_seed(0)
    model = build_forecaster(cfg, TOY_META)
    before = validation_loss(model, ds["val"], 8, criterion=criterion)
    train = {"epochs": 8, "batch_size": 8, "lr": 0.005, "schedule": "constant",
             "scheduled_sampling": None, "criterion": criterion}  # fmt: skip
    summary = Trainer(model, ds, train, None, tmp_path / criterion, progress=False,
                      quiet=True).fit()  # fmt: skip
    assert summary["best_val_loss"] < before
    model.eval()
    with torch.no_grad():
        std = model({"inputs": ds["val"].inputs})["pred_std"]
    val = ds["val"]
    for k, sigma in enumerate(NOISE):
        where = val.mask & (val.sigma == sigma)
        learned = float(std[where].mean())
        assert abs(learned - sigma) < 0.3 * sigma, (k, learned)
    # the best score of the true N(mean, sigma^2) forecast, approached from above
    sig = val.sigma[val.mask].double()
    optimum = float(
        (sig / math.sqrt(math.pi)).mean()
        if criterion == "crps"
        else (torch.log(sig) + 0.5 + 0.5 * math.log(2 * math.pi)).mean()
    )
    assert optimum - 0.05 < summary["best_val_loss"] < optimum + 0.25 * abs(optimum)
