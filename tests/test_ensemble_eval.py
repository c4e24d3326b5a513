"""Ensembles of a model through the one evaluation pass: how members are made, and their
scores against the deterministic ones on the built-in TEC sample."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine_toy import tec_datasets, tiny_model
from geostl.engine import EvalConfig
from geostl.engine.ensemble import EnsembleMembers
from geostl.engine.evaluate import (
    ENSEMBLE_LABEL,
    PERSISTENCE_ENSEMBLE_LABEL,
    SUN_FIXED_ENSEMBLE_LABEL,
    _forward_pred,
    evaluate_sums,
)


def _batch(ds, indices):
    items = [ds[i] for i in indices]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def test_perturbed_members_do_not_depend_on_the_batch() -> None:
    ds, _, _ = tec_datasets(t_out=2)
    test = ds["test"]
    model = tiny_model(ds["train"]).eval()
    members = EnsembleMembers(model, "perturb", 3, perturb_std=0.05, seed=11)
    with torch.no_grad():
        together = members(_batch(test, [0, 1, 2]), _forward_pred)
        alone = members(_batch(test, [2]), _forward_pred)
    assert together.shape == (3, 3, 2, *test[0]["targets"].shape[1:])
    torch.testing.assert_close(together[:, 2:], alone, rtol=0, atol=1e-6)
    assert not torch.allclose(together[0], together[1])  # members differ


def test_perturbation_has_the_configured_std_and_spares_invalid_pixels() -> None:
    ds, _, _ = tec_datasets(t_out=2)
    batch = _batch(ds["test"], [0, 1])
    batch["input_mask"] = batch["input_mask"].clone()
    batch["input_mask"][:, :, :, :10] = False
    members = EnsembleMembers(tiny_model(ds["train"]), "perturb", 2, perturb_std=0.03)
    seen = []
    members(batch, lambda m, b: seen.append(b["inputs"] - batch["inputs"]) or b["inputs"])
    delta = torch.stack(seen)
    assert bool((delta[:, :, :, :, :10] == 0).all())
    ok = delta[:, :, :, :, 10:]
    assert float(ok.std()) == pytest.approx(0.03, rel=0.02)
    assert abs(float(ok.mean())) < 1e-3


def test_mc_dropout_needs_dropout_and_restores_eval_mode() -> None:
    ds, _, _ = tec_datasets(t_out=2)
    with pytest.raises(ValueError, match="no dropout"):
        EnsembleMembers(tiny_model(ds["train"]), "mc_dropout", 4)
    model = tiny_model(ds["train"], dropout=0.3).eval()
    members = EnsembleMembers(model, "mc_dropout", 4, seed=1)
    with torch.no_grad():
        a = members(_batch(ds["test"], [0]), _forward_pred)
        b = members(_batch(ds["test"], [0]), _forward_pred)
    torch.testing.assert_close(a, b)  # seeded: the same masks again
    assert not torch.allclose(a[0], a[1])
    assert not model.training and not model.drop.training


def test_a_one_member_ensemble_scores_its_crps_as_the_mae() -> None:
    """The model alone as a one-member ensemble: its CRPS is the deterministic MAE; the
    persistence ensemble of one member is persistence."""
    ds, sources, _ = tec_datasets(t_out=4)
    model = tiny_model(ds["train"], seed=3)
    cfg = {"batch_size": 3, "baselines": ["persistence", "sun_fixed"], "ensemble_members": 1,
           "ensemble_method": "checkpoints", "persistence_members": 1}  # fmt: skip
    sums = evaluate_sums(model, ds["test"], cfg)
    det, prob = sums.tables(), sums.probabilistic_tables()
    assert list(prob) == [ENSEMBLE_LABEL, PERSISTENCE_ENSEMBLE_LABEL, SUN_FIXED_ENSEMBLE_LABEL]
    for lead in ("+15 min", "+1 h", "all"):
        for w in ("plain", "lat"):
            crps = prob[ENSEMBLE_LABEL].value("crps", "tec", lead, w)
            assert crps == pytest.approx(det["model"].value("mae", "tec", lead, w), rel=1e-12)
            pers = prob[PERSISTENCE_ENSEMBLE_LABEL].value("crps", "tec", lead, w)
            assert pers == pytest.approx(det["persistence"].value("mae", "tec", lead, w), rel=1e-12)
            turned = prob[SUN_FIXED_ENSEMBLE_LABEL].value("crps", "tec", lead, w)
            sun = det["sun-fixed persistence"].value("mae", "tec", lead, w)
            assert turned == pytest.approx(sun, rel=1e-12)


def test_persistence_ensemble_holds_the_lagged_maps() -> None:
    ds, _, _ = tec_datasets(t_out=2)
    test = ds["test"]
    model = tiny_model(ds["train"])
    cfg = {"baselines": [], "ensemble_members": 2, "persistence_members": 3,
           "thresholds": {"tec": [20.0]}}  # fmt: skip
    table = evaluate_sums(model, test, cfg).probabilistic_tables()[PERSISTENCE_ENSEMBLE_LABEL]
    # independent: members = the last 3 input maps in TECU (TEC / 200 scaling), the spread of
    # three held maps is the same at every lead
    var, w = 0.0, 0.0
    lat_w = np.cos(np.deg2rad(np.asarray(test.lat)))[:, None] * np.ones(len(test.lon))
    lat_w[:, -1] = 0.0  # the repeated meridian
    for i in range(len(test)):
        s = test[i]
        maps = s["inputs"][-3:, 0].double().numpy() * 200.0
        ok = (s["input_mask"][-3:, 0].all(0) & s["target_mask"][0, 0]).numpy()
        var += (maps.var(0, ddof=1) * lat_w * ok).sum()
        w += (lat_w * ok).sum()
    spread = [table.value("spread", "tec", lead, "lat") for lead in ("+15 min", "+30 min")]
    assert spread[0] == pytest.approx(np.sqrt(var / w), rel=1e-5)
    assert spread[0] == pytest.approx(spread[1], rel=1e-12)
    with pytest.raises(ValueError, match="persistence_members"):
        evaluate_sums(
            model, test, {"baselines": [], "ensemble_members": 1, "persistence_members": 99}
        )


def test_member_checkpoints_must_match_the_model(tmp_path, tiny_tec_run) -> None:
    from geostl.engine import build_model_from_checkpoint, load_checkpoint

    ckpt = load_checkpoint(tiny_tec_run)
    model = build_model_from_checkpoint(ckpt)
    ds, _, _ = tec_datasets(t_out=2)
    other = tiny_model(ds["train"])
    with pytest.raises(ValueError, match="2 members need 1 other"):
        EnsembleMembers(model, "checkpoints", 2, checkpoints=[])
    bad = dict(ckpt)
    bad["data"] = {**ckpt["data"], "normaliser": {"channels": {"tec": {"scale": 1.0}}}}
    torch.save(bad, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="another normaliser"):
        EnsembleMembers(model, "checkpoints", 2, checkpoints=[str(tmp_path / "other.pt")],
                        normaliser_state=ckpt["data"]["normaliser"])  # fmt: skip
    with pytest.raises(ValueError, match="data layout"):
        EnsembleMembers(other, "checkpoints", 2, checkpoints=[str(tiny_tec_run)])


def test_eval_keys_are_checked() -> None:
    with pytest.raises(ValueError, match=r"eval.coverage.*\(0, 1\)"):
        EvalConfig.from_dict({"coverage": [90]})
    with pytest.raises(ValueError, match="need 2 ensemble_checkpoints"):
        EvalConfig.from_dict({"ensemble_members": 3, "ensemble_method": "checkpoints"})
    with pytest.raises(ValueError, match="ensemble_method"):
        EvalConfig.from_dict({"ensemble_method": "bred"})
    cfg = EvalConfig.from_dict({"ensemble_members": 4, "thresholds": {"tec": [20, 40]}})
    assert cfg.thresholds == {"tec": (20.0, 40.0)}
    assert EvalConfig.from_dict(cfg.to_dict()) == cfg


def test_geostl_test_writes_the_probabilistic_outputs(tmp_path, tiny_tec_run) -> None:
    from geostl.cli import main

    out = tmp_path / "ens"
    code = main(["test", "--ckpt", str(tiny_tec_run), "--out", str(out),
                 "eval.ensemble_members=3", "eval.thresholds={tec: [20.0]}"])  # fmt: skip
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["probabilistic"]) == {
        ENSEMBLE_LABEL,
        PERSISTENCE_ENSEMBLE_LABEL,
    }  # no sun_fixed

    rows = metrics["probabilistic"][ENSEMBLE_LABEL]["rows"]
    names = {r["metric"] for r in rows}
    assert {"crps", "crps_fair", "spread_skill", "coverage_0.9", "brier_gt_20", "rank_3"} <= names
    assert all(np.isfinite(r["value"]) for r in rows if r["metric"] in ("crps", "spread"))
    md = (out / "metrics.md").read_text()
    assert "## Probabilistic scores" in md and "model MAE (1 member)" in md
    for png in ("spread_skill.png", "spread_maps.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predict_writes_an_ensemble_with_a_member_dimension(tmp_path, tiny_tec_run) -> None:
    import xarray as xr

    from geostl.commands.run import predict_to_netcdf

    single = xr.load_dataset(predict_to_netcdf(tiny_tec_run, tmp_path / "one.nc"))
    # the model twice as a two-member "checkpoints" ensemble: both members are its forecast
    twice = predict_to_netcdf(tiny_tec_run, tmp_path / "twice.nc", overrides=[
        "eval.ensemble_members=2", "eval.ensemble_method=checkpoints",
        f"eval.ensemble_checkpoints=[{tiny_tec_run}]"])  # fmt: skip
    twice = xr.load_dataset(twice)
    assert twice["tec"].dims[0] == "member" and twice.sizes["member"] == 2
    for k in range(2):
        np.testing.assert_array_equal(twice["tec"].isel(member=k).values, single["tec"].values)
    noisy = xr.load_dataset(predict_to_netcdf(tiny_tec_run, tmp_path / "noisy.nc",
                                              overrides=["eval.ensemble_members=3"]))  # fmt: skip
    assert "3 members, method perturb" in noisy.attrs["ensemble"]
    spread = noisy["tec"].std("member")
    assert float(spread.mean()) > 0 and "member" not in noisy["valid_time"].dims


def test_mc_dropout_finds_simvp_stochastic_depth() -> None:
    from geostl.engine.ensemble import dropout_layers
    from geostl.models import build_forecaster

    meta = {"t_in": 3, "t_out": 2, "target_channels": 1, "forcing_channels": 0,
            "static_channels": 0, "height": 8, "width": 8}  # fmt: skip
    backbone = {"name": "simvp", "hid_S": 4, "hid_T": 8, "N_S": 2, "N_T": 2, "mlp_ratio": 2.0}
    torch.manual_seed(0)
    model = build_forecaster({"backbone": {**backbone, "drop_path": 0.2}, "fusion": "none"}, meta)
    assert any(float(m.p) == pytest.approx(0.2) for m in dropout_layers(model))
    batch = {"inputs": torch.randn(2, 3, 1, 8, 8), "index": torch.tensor([0, 1])}
    with torch.no_grad():
        ens = EnsembleMembers(model.eval(), "mc_dropout", 3)(batch, _forward_pred)
        det = model(batch)["pred"]
    assert ens.shape == (3, *det.shape)
    assert not torch.allclose(ens[0], ens[1]) and not torch.allclose(ens[0], det)


def test_the_sun_fixed_persistence_ensemble_turns_the_lagged_maps_with_the_sun() -> None:
    """Lagged TEC maps turned with the Sun agree better with each other and with the truth
    than the same maps held in place (the daytime bulge moves 3.75 degrees per 15 min)."""
    ds, _, _ = tec_datasets(t_out=2)
    cfg = {"baselines": ["sun_fixed"], "ensemble_members": 1, "persistence_members": 4}
    prob = evaluate_sums(tiny_model(ds["train"]), ds["test"], cfg).probabilistic_tables()
    plain, turned = prob[PERSISTENCE_ENSEMBLE_LABEL], prob[SUN_FIXED_ENSEMBLE_LABEL]
    for metric in ("spread", "crps"):
        a, b = (t.value(metric, "tec", "all", "lat") for t in (turned, plain))
        assert a < 0.8 * b, (metric, a, b)


def test_a_gaussian_model_is_scored_in_closed_form_in_physical_units() -> None:
    from engine_toy import meta_of
    from geostl.engine.evaluate import GAUSSIAN_LABEL
    from geostl.metrics.crps import crps_gaussian
    from geostl.models import build_forecaster
    from geostl.outputs.probabilistic import window_spread

    ds, _, _ = tec_datasets(t_out=2)
    test = ds["test"]
    cfg = {"backbone": {"name": "convlstm", "num_hidden": [4], "filter_size": 3, "patch_size": 1},
           "residual": "last", "output": "gaussian"}  # fmt: skip
    torch.manual_seed(0)
    model = build_forecaster(cfg, meta_of(ds["train"])).eval()
    with torch.no_grad():  # a spread that varies over the grid, not the head's constant start
        model.spread_head.readout.weight.normal_(0.0, 0.5)
    table = evaluate_sums(model, test, {"baselines": []}).probabilistic_tables()[GAUSSIAN_LABEL]
    # independent: every window through the model, std x 200 TECU (the TEC / 200 scaling)
    num = torch.zeros(2, dtype=torch.float64)
    den = torch.zeros(2, dtype=torch.float64)
    lat_w = torch.cos(torch.deg2rad(torch.as_tensor(np.asarray(test.lat))))[:, None]
    lon_w = torch.ones(len(test.lon), dtype=torch.float64)
    lon_w[-1] = 0.0
    with torch.no_grad():
        for i in range(len(test)):
            b = {k: v[None] for k, v in test[i].items()}
            out = model(b)
            mu = (out["pred"].double() * 200.0).clamp_min(0.0)[0, :, 0]
            sd = out["pred_std"].double()[0, :, 0] * 200.0
            ok = (b["target_mask"] & b["input_mask"][:, -1:]).all(dim=0)[:, 0]
            y = torch.where(ok, b["targets"].double()[0, :, 0] * 200.0, 0.0)
            w = ok * lat_w * lon_w
            num += (w * crps_gaussian(mu, sd, y)).sum(dim=(1, 2))
            den += w.sum(dim=(1, 2))
    for k, lead in enumerate(("+15 min", "+30 min")):
        assert table.value("crps", "tec", lead, "lat") == pytest.approx(float(num[k] / den[k]),
                                                                       rel=1e-4)  # fmt: skip
    spread = window_spread(model, test, EvalConfig(), -1)
    assert spread is not None and spread["label"] == GAUSSIAN_LABEL
    with torch.no_grad():
        last = model({k: v[None] for k, v in test[len(test) - 1].items()})["pred_std"][0, :, 0]
    torch.testing.assert_close(spread["spread"], last.double() * 200.0, rtol=1e-6, atol=1e-9)
