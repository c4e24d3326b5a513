"""model.baseline: an untrained Forecaster equals its baseline, checked against the evaluation's
own baselines (float64, physical units) on the built-in TEC sample."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine_toy import tec_datasets
from geostl.baselines import Climatology
from geostl.engine import Trainer
from geostl.engine.evaluate import baseline_forecasts
from geostl.models import build_forecaster, meta_from_dataset

TEC_SCALE = 200.0  # the demo's fixed normalisation: tec / 200 TECU
BACKBONE = {"name": "convlstm", "num_hidden": [4], "filter_size": 3, "patch_size": 1}


def _model(ds, baseline: str, seed: int = 0):
    torch.manual_seed(seed)
    return build_forecaster({"backbone": BACKBONE, "baseline": baseline}, meta_from_dataset(ds))


def _reference(ds, sources, names, batch):
    """The evaluation's baselines for ``batch`` (B, T, C, H, W) float64, TEC / 200."""
    maps = sources["maps"]
    inside = np.flatnonzero(ds["train"].split.contains(maps["time"].values))
    clim = [Climatology("time_of_day").fit(maps["tec"].isel(time=inside))]
    val = ds["val"]
    step_h = float(np.timedelta64(val.time_step) / np.timedelta64(1, "h"))
    last = batch["last_input_physical"].double()
    refs, _ = baseline_forecasts(
        names,
        torch.nan_to_num(last),
        torch.isfinite(last),
        np.arange(1, val.t_out + 1) * step_h,
        lon=np.asarray(val.lon),
        climatologies=clim,
        valid_times=batch["times_out"].numpy().astype("datetime64[ns]"),
    )
    return {k: v / TEC_SCALE for k, v in refs.items()}


def _stack(dataset, n):
    """The first ``n`` windows of ``dataset`` as one batch."""
    items = [dataset[i] for i in range(n)]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def _val_batch(ds, n=6):
    return _stack(ds["val"].with_physical_values(), n)


@pytest.mark.parametrize("name", ["persistence", "sun_fixed", "climatology"])
def test_untrained_model_equals_the_baseline(name):
    ds, sources, _ = tec_datasets(t_out=6)
    model = _model(ds["train"], name)
    model.fit_baseline(ds["train"], ds["val"])
    batch = _val_batch(ds)
    model.eval()
    with torch.no_grad():
        pred = model(batch)["pred"].double()
    ref = _reference(ds, sources, [name], batch)[name]
    ok = batch["target_mask"]
    assert ok.sum() > 1000
    assert torch.allclose(pred[ok], ref[ok], rtol=0, atol=1e-6)
    assert float((pred[ok] - ref[ok]).abs().max()) < 1e-6


def test_blend_weights_are_the_least_squares_fit_and_the_zero_forecast():
    ds, sources, _ = tec_datasets(t_out=6)
    model = _model(ds["train"], "blend")
    lines = model.fit_baseline(ds["train"], ds["val"])
    assert any("blend" in line for line in lines)
    names = model.baseline.components
    assert names == ["persistence", "sun_fixed", "climatology"]
    # independent fit: numpy lstsq per lead over every validation window, from the evaluation's
    # baselines in float64
    batch = _val_batch(ds, len(ds["val"]))
    refs = _reference(ds, sources, names, batch)
    y = batch["targets_physical"].double() / TEC_SCALE
    ok = batch["target_mask"] & torch.isfinite(y)
    for lead in range(6):
        m = ok[:, lead, 0]
        a = np.stack([refs[k][:, lead, 0][m].numpy() for k in names], axis=1)
        w, *_ = np.linalg.lstsq(a, y[:, lead, 0][m].numpy(), rcond=None)
        np.testing.assert_allclose(model.baseline.weights[lead, 0].numpy(), w, atol=2e-3)
    model.eval()
    with torch.no_grad():
        pred = model(batch)["pred"].double()
    weights = model.baseline.weights.double()  # (T, C, K)
    blend = sum(refs[k] * weights[:, :, i][None, :, :, None, None] for i, k in enumerate(names))
    assert float((pred[ok] - blend[ok]).abs().max()) < 1e-6


def test_fitted_tables_travel_in_the_state_dict():
    ds, _, _ = tec_datasets(t_out=4)
    model = _model(ds["train"], "blend")
    model.fit_baseline(ds["train"], ds["val"])
    again = build_forecaster(*model.constructor_args())
    assert again.baseline.needs_fit
    again.load_state_dict(model.state_dict())
    assert not again.baseline.needs_fit
    batch = _val_batch(ds, 3)
    model.eval(), again.eval()
    with torch.no_grad():
        assert torch.equal(model(batch)["pred"], again(batch)["pred"])


def test_unfitted_climatology_and_bad_combinations_are_refused():
    ds, _, _ = tec_datasets(t_out=4)
    model = _model(ds["train"], "climatology")
    with pytest.raises(RuntimeError, match="not fitted"):
        model(_val_batch(ds, 2))
    meta = meta_from_dataset(ds["train"])
    with pytest.raises(ValueError, match="model.baseline 'blend' replaces model.residual"):
        build_forecaster({"backbone": BACKBONE, "baseline": "blend", "residual": "last"}, meta)
    with pytest.raises(ValueError, match="climatology .* divides a day"):
        build_forecaster(
            {"backbone": BACKBONE, "baseline": "climatology"}, {**meta, "time_step_hours": 7.0}
        )


def test_training_keeps_the_baseline_unless_validation_improves(tmp_path):
    ds, _, _ = tec_datasets(t_out=4)
    model = _model(ds["train"], "sun_fixed")
    train_cfg = {"epochs": 1, "batch_size": 4, "lr": 5.0, "max_steps_per_epoch": 2, "seed": 0}
    trainer = Trainer(model, ds, train_cfg, run_dir=tmp_path / "r", progress=False, quiet=True)
    summary = trainer.fit()
    # an absurd learning rate makes the trained model worse: best.pt stays the baseline
    assert summary["best_epoch"] == 0
    assert summary["history"][0]["val_loss"] > summary["best_val_loss"]
    log = (tmp_path / "r" / "train.log").read_text()
    assert "epoch 0 (untrained: the baseline it starts from)" in log
    best = torch.load(tmp_path / "r" / "best.pt", weights_only=True)
    assert best["progress"]["global_step"] == 0
    readout = [v for k, v in best["model"]["state_dict"].items() if "readout" in k]
    assert readout and all(float(v.abs().max()) == 0.0 for v in readout)


def test_times_of_day_the_train_split_lacks_fall_back_to_persistence():
    import copy

    from geostl.commands.demo import TEC_DEMO_CONFIG
    from geostl.data import build_datasets

    cfg = copy.deepcopy(TEC_DEMO_CONFIG)
    cfg["window"]["t_out"] = 4
    cfg["splits"]["train"]["end"] = "2019-04-25T16:00"  # no maps from 16:00 to 24:00 UT
    ds = build_datasets(cfg, tec_datasets(t_out=4)[1])
    clim = _model(ds["train"], "climatology")
    lines = clim.fit_baseline(ds["train"], ds["val"])
    assert "the 32 of 96 times of day the train split lacks take the last input map" in lines[0]
    persistence = _model(ds["train"], "persistence")
    test = ds["test"]  # 17:00 to 24:00: every lead at a time of day the train split lacks
    batch = _stack(test, 3)
    clim.eval(), persistence.eval()
    with torch.no_grad():
        assert torch.equal(clim(batch)["pred"], persistence(batch)["pred"])


def test_a_window_gets_the_same_forecast_in_any_batch():
    ds, _, _ = tec_datasets(t_out=4)
    model = _model(ds["train"], "blend")
    model.fit_baseline(ds["train"], ds["val"])
    model.eval()
    batch = _val_batch(ds, 5)
    with torch.no_grad():
        together = model(batch)["pred"]
        alone = torch.cat([model({k: v[i : i + 1] for k, v in batch.items()})["pred"]
                           for i in range(5)])  # fmt: skip
    assert torch.equal(together, alone)
