"""ENSO experiment on the built-in ERSSTv5 sample (seed 002 model, small widths, CPU).

Data: ``sample("sst")`` (ERSSTv5 2° monthly 2010-01..2020-08) cropped to 55°S–60°N (58 × 180),
then every ``stride``-th grid point kept (default 2: 29 × 90 points 4° apart, for CPU time),
targets from ``sample("sst_indices")`` (CPC Niño 3.4 anomaly, 1991–2020 base; phase from the
centred 3-month ONI, ±0.5 °C, :mod:`geostl.data.enso`). Chronological split: training windows
lie wholly in months up to ``train_end``; test windows start at ``test_start`` or later (no
month is in both). Inputs: ``n_input`` months; targets: the next month's SST grid (seed's SST
head) and the index / phase at leads 1..``n_leads``.

Baselines on the same test windows: **persistence** (the last input month's anomaly at every
lead; phase by the ±0.5 °C threshold on that anomaly) and **climatology** (training-period mean
anomaly of the target's calendar month; phase = most frequent training phase of that month).
The SST head's lead-1 field also gives a Niño 3.4 index the Earthformer way (box mean minus
the training months' box-mean climatology), scored against the same observations.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from geostl.data.enso import PHASE_CODES, nino34_box_mean, targets_from_indices
from geostl.data.enso_samples import crop_latitudes, fit_stats, make_windows
from geostl.datasets import sample
from geostl.metrics.enso import (
    c_nino34_m,
    c_nino34_wm,
    confusion_matrix,
    index_correlation,
    index_rmse,
)
from geostl.models.enso import EnsoConvLSTM
from geostl.models.enso_loss import SEED_WEIGHTS, enso_loss
from geostl.outputs.enso_figures import plot_confusion, plot_index_forecasts


@dataclass(frozen=True)
class EnsoConfig:
    """Settings of :func:`run_enso` (defaults: ~1–2 min on 2 CPU cores)."""

    n_input: int = 6
    n_leads: int = 6
    train_end: str = "2017-12"
    test_start: str = "2018-01"
    hidden: tuple[int, ...] = (4, 4, 8)
    kernels: tuple[int, ...] = (3, 3, 3)
    stride: int = 2
    trunk_channels: int = 16
    embed: int = 32
    head_hidden: int = 64
    epochs: int = 15
    batch_size: int = 8
    lr: float = 1e-3
    seed: int = 777
    loss_weights: tuple[float, float, float] = field(default=SEED_WEIGHTS)


def _scores(pred: np.ndarray, obs: np.ndarray, p_phase: np.ndarray, t_phase: np.ndarray) -> dict:
    corr = index_correlation(pred, obs)
    matrix = confusion_matrix(p_phase, t_phase)
    return {
        "rmse_per_lead": index_rmse(pred, obs).tolist(),
        "corr_per_lead": corr.tolist(),
        "c_nino34_m": c_nino34_m(corr),
        "c_nino34_wm": c_nino34_wm(corr),
        "phase_accuracy_per_lead": (p_phase == t_phase).mean(axis=0).tolist(),
        "phase_accuracy": float(np.trace(matrix) / matrix.sum()),
        "confusion": matrix.tolist(),
    }


def _threshold_phase(anom: np.ndarray) -> np.ndarray:
    out = np.full(anom.shape, PHASE_CODES["N"], dtype=np.int64)
    out[anom >= 0.5] = PHASE_CODES["E"]
    out[anom <= -0.5] = PHASE_CODES["L"]
    return out


def _markdown(results: dict[str, Any], n_leads: int) -> str:
    lines = [
        f"Test windows: {results['n_test']} (train {results['n_train']}); index in degC "
        "(CPC Nino 3.4 anomaly); phase classes E/L/N from the ONI.",
        "",
        "| method | metric | " + " | ".join(f"lead {k}" for k in range(1, n_leads + 1)) + " |",
        "|---|---|" + "---|" * n_leads,
    ]
    for name, s in results["methods"].items():
        for key, label in (
            ("rmse_per_lead", "RMSE (degC)"),
            ("corr_per_lead", "corr"),
            ("phase_accuracy_per_lead", "phase acc."),
        ):
            lines.append(f"| {name} | {label} | " + " | ".join(f"{v:.3f}" for v in s[key]) + " |")
    lines += ["", "| method | C-Nino3.4-M | C-Nino3.4-WM | phase accuracy (all leads) |"]
    lines.append("|---|---|---|---|")
    for name, s in results["methods"].items():
        lines.append(
            f"| {name} | {s['c_nino34_m']:.3f} | {s['c_nino34_wm']:.3f} | "
            f"{s['phase_accuracy']:.3f} |"
        )
    d = results["sst_head_nino34_lead1"]
    o = results["observed_field_nino34_lead1"]
    lines += [
        "",
        f"Lead-1 Nino 3.4 derived from the SST head's field (box mean minus training box-mean "
        f"climatology): RMSE {d['rmse']:.3f} degC, corr {d['corr']:.3f} "
        f"(index head at lead 1: RMSE {results['methods']['model']['rmse_per_lead'][0]:.3f}). "
        f"The same derivation on the observed field: RMSE {o['rmse']:.3f} degC, "
        f"corr {o['corr']:.3f}.",
    ]
    return "\n".join(lines) + "\n"


def run_enso(out_dir: str | Path, config: EnsoConfig | None = None) -> dict[str, Any]:
    """Train and evaluate the ENSO model on the built-in sample; write tables and figures.

    Writes ``metrics.json``, ``metrics.md``, ``index_forecast.png`` and ``confusion.png`` in
    ``out_dir`` and returns the JSON content.
    """
    cfg = config or EnsoConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    t0 = time.perf_counter()

    sst_da = crop_latitudes(sample("sst")["sst"])
    if cfg.stride > 1:  # every stride-th grid point (no averaging): 2 -> 4 deg, 29 x 90
        sst_da = sst_da.isel(lat=slice(None, None, cfg.stride), lon=slice(None, None, cfg.stride))
    targets = targets_from_indices(sample("sst_indices"))
    times = sst_da["time"].values
    missing = np.setdiff1d(times, targets["time"].values)
    if missing.size:
        raise ValueError(f"index targets lack months {missing[:3]} of the SST sample")
    targets = targets.sel(time=times)
    sst = sst_da.values.astype(np.float64)
    index = targets["nino34_anom"].values
    phase = targets["phase"].values
    ocean = np.isfinite(sst).all(axis=0)
    n_train_months = int((times <= np.datetime64(cfg.train_end + "-01")).sum())
    first_test = int(np.searchsorted(times, np.datetime64(cfg.test_start + "-01")))
    span = cfg.n_input + cfg.n_leads
    stats = fit_stats(sst[:n_train_months], index[:n_train_months])
    train = make_windows(
        sst, index, phase, np.arange(0, n_train_months - span + 1),
        cfg.n_input, cfg.n_leads, stats, ocean,
    )  # fmt: skip
    test = make_windows(
        sst, index, phase, np.arange(first_test, len(times) - span + 1),
        cfg.n_input, cfg.n_leads, stats, ocean,
    )  # fmt: skip

    width, height = train.x.shape[3], train.x.shape[4]
    model = EnsoConvLSTM(
        width=width,
        height=height,
        hidden=cfg.hidden,
        kernels=cfg.kernels,
        trunk_channels=cfg.trunk_channels,
        embed=cfg.embed,
        head_hidden=cfg.head_hidden,
        n_leads=cfg.n_leads,
    )
    ocean_t = torch.from_numpy(ocean.T.copy())
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    history = []
    for epoch in range(cfg.epochs):
        model.train()
        order = torch.randperm(len(train.x), generator=gen)
        total, count = 0.0, 0
        for k in range(0, len(order), cfg.batch_size):
            idx = order[k : k + cfg.batch_size]
            if len(idx) < 2:  # BatchNorm1d needs 2 samples in training mode
                continue
            opt.zero_grad()
            pred = model(train.x[idx])
            loss = enso_loss(
                pred, train.sst[idx], ocean_t, train.index[idx], train.phase[idx],
                cfg.loss_weights,
            )  # fmt: skip
            loss.total.backward()
            opt.step()
            total += loss.total.item() * len(idx)
            count += len(idx)
        history.append(total / count)
        print(f"epoch {epoch + 1}/{cfg.epochs}: train loss {history[-1]:.4f}", flush=True)

    model.eval()
    with torch.no_grad():
        pred = model(test.x)
    pred_index = pred["index"].double().numpy() * stats.index_std + stats.index_mean
    pred_phase = pred["phase_logits"].argmax(-1).numpy()
    lead_pos = test.start[:, None] + cfg.n_input + np.arange(cfg.n_leads)[None]
    obs_index, obs_phase = index[lead_pos], phase[lead_pos]

    last_input = index[test.start + cfg.n_input - 1]
    persist = np.repeat(last_input[:, None], cfg.n_leads, axis=1)
    month_of = (times.astype("datetime64[M]").astype(np.int64) % 12).astype(int)
    clim_index = np.array([index[:n_train_months][month_of[:n_train_months] == m].mean()
                           for m in range(12)])  # fmt: skip
    clim_phase = np.array([np.bincount(phase[:n_train_months][month_of[:n_train_months] == m],
                                       minlength=3).argmax() for m in range(12)])  # fmt: skip
    methods = {
        "model": _scores(pred_index, obs_index, pred_phase, obs_phase),
        "persistence": _scores(persist, obs_index, _threshold_phase(persist), obs_phase),
        "climatology": _scores(
            clim_index[month_of[lead_pos]], obs_index, clim_phase[month_of[lead_pos]], obs_phase
        ),
    }

    # Earthformer route at lead 1: Nino 3.4 from the forecast SST field
    field_c = pred["sst"][:, 0].double().numpy() * stats.sst_std + stats.sst_mean  # (N, lon, lat)
    field_c = np.where(ocean.T[None], field_c, np.nan).transpose(0, 2, 1)
    target_times = times[test.start + cfg.n_input]
    coords = {"time": target_times, "lat": sst_da.lat, "lon": sst_da.lon}
    fc = xr.DataArray(field_c, dims=("time", "lat", "lon"), coords=coords)
    box_train = nino34_box_mean(sst_da.isel(time=slice(0, n_train_months))).values
    box_clim = np.array([box_train[month_of[:n_train_months] == m].mean() for m in range(12)])
    derived = nino34_box_mean(fc).values - box_clim[month_of[test.start + cfg.n_input]]
    d_obs = obs_index[:, :1]
    # the same route on the observed field of those months: checks the derivation itself
    observed_box = nino34_box_mean(sst_da.isel(time=test.start + cfg.n_input)).values
    observed_derived = observed_box - box_clim[month_of[test.start + cfg.n_input]]
    results: dict[str, Any] = {
        "config": asdict(cfg),
        "grid": {"lon": int(width), "lat": int(height)},
        "n_parameters": int(sum(p.numel() for p in model.parameters())),
        "n_train": len(train.x),
        "n_test": len(test.x),
        "test_targets": [str(target_times[0])[:7], str(times[lead_pos[-1, -1]])[:7]],
        "train_loss": history,
        "methods": methods,
        "sst_head_nino34_lead1": {
            "rmse": float(index_rmse(derived[:, None], d_obs)[0]),
            "corr": float(index_correlation(derived[:, None], d_obs)[0]),
        },
        "observed_field_nino34_lead1": {
            "rmse": float(index_rmse(observed_derived[:, None], d_obs)[0]),
            "corr": float(index_correlation(observed_derived[:, None], d_obs)[0]),
        },
        "seconds": time.perf_counter() - t0,
    }
    (out / "metrics.json").write_text(json.dumps(results, indent=2))
    (out / "metrics.md").write_text(_markdown(results, cfg.n_leads))
    lead_times = times[lead_pos]
    forecasts = {}
    for lead in sorted({1, 3, cfg.n_leads}):
        forecasts[f"model lead {lead}"] = (lead_times[:, lead - 1], pred_index[:, lead - 1])
    forecasts[f"persistence lead {cfg.n_leads}"] = (lead_times[:, -1], persist[:, -1])
    shown = slice(max(first_test - 2, 0), None)
    plot_index_forecasts(
        out / "index_forecast.png", times[shown], index[shown], forecasts,
        f"Nino 3.4 forecasts on the test period ({len(test.x)} windows)",
    )  # fmt: skip
    plot_confusion(
        out / "confusion.png",
        {name: np.array(s["confusion"]) for name, s in methods.items()},
    )
    return results


def main(argv: list[str] | None = None) -> int:
    """``python -m geostl.enso_experiment [--out DIR] [--epochs N] [--seed S]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m geostl.enso_experiment",
        description="ENSO ConvLSTM (seed 002) on the real ERSSTv5 sample, vs baselines",
    )
    parser.add_argument("--out", default="runs/enso", help="output folder (default runs/enso)")
    parser.add_argument("--epochs", type=int, default=EnsoConfig.epochs)
    parser.add_argument("--seed", type=int, default=EnsoConfig.seed)
    args = parser.parse_args(argv)
    results = run_enso(args.out, EnsoConfig(epochs=args.epochs, seed=args.seed))
    print((Path(args.out) / "metrics.md").read_text())
    print(f"{results['seconds']:.0f} s; metrics.json, metrics.md and figures in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
