"""Real-data run: hourly ERA5 UK 2 m temperature with cloud-like gaps -> daily means.

The built-in ``t2m`` sample (March 2019, 0.25 deg, 33 x 49) is cropped to 32 x 48 (the
southernmost row, 50.0 N, and easternmost column, 2.0 E, are dropped so that 16 x 16 tiles cover
it) and laid out as days x 24 hours. The split is chronological: training draws 7-day windows
from 1-24 March, each with a fresh cloud mask; the test is 25-31 March under one fixed cloud
mask (``seed``). The target is the true daily mean of all 24 hours. The model is compared with
the baselines of :mod:`geostl.tasks.gapfill.baselines` computed from the same gapped input (the
climatology uses every observed value of the month: it is part of the input). Scores are RMSE
and MAE in K from :class:`geostl.metrics.ForecastMetrics` over the pixel-days with at least one
hidden hour ("gapped") and with every hour hidden ("hidden").
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from geostl.tasks.gapfill import baselines
from geostl.tasks.gapfill.figure import reconstruction_figure
from geostl.tasks.gapfill.gap_masks import cloud_mask
from geostl.tasks.gapfill.layout import build_period_layout, tile_maps, untile_maps
from geostl.tasks.gapfill.loss import masked_l1
from geostl.metrics import ForecastMetrics, WideTable
from geostl.tasks.gapfill import SpatioTemporalModel

__all__ = ["GapfillRunConfig", "run_t2m_gapfill"]

TILE = (16, 16)
GRID = (32, 48)
TRAIN_DAYS = 24
WINDOW = 7


@dataclass
class GapfillRunConfig:
    """Settings of :func:`run_t2m_gapfill` (all written to ``config.json``)."""

    minutes: float = 2.0
    fraction: float = 0.5
    scale: tuple[float, float, float] = (3.0, 2.0, 2.0)  # hours, rows, columns
    seed: int = 0
    batch: int = 4
    lr: float = 1e-3
    embed_dim: int = 32
    hidden: int = 64
    patch: tuple[int, int, int] = (1, 4, 4)
    overlap: int = 1
    spatial_depth: int = 1
    num_heads: int = 4
    max_steps: int | None = None  # stop after this many steps (tests); None = time budget only

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction < 1.0:
            raise ValueError(f"fraction: expected a value in (0, 1), got {self.fraction}")
        if self.minutes < 0 or self.batch < 1:
            raise ValueError(
                f"minutes {self.minutes} / batch {self.batch}: expected minutes >= 0, batch >= 1"
            )


def _load():
    from geostl.datasets import sample

    field = sample("t2m")["t2m"].isel(lat=slice(0, GRID[0]), lon=slice(0, GRID[1]))
    if bool(field.isnull().any()):
        raise ValueError("sample t2m: NaN in the complete field; expected a gap-free ERA5 cut")
    return field


def _model(cfg: GapfillRunConfig) -> SpatioTemporalModel:
    return SpatioTemporalModel(
        embed_dim=cfg.embed_dim,
        patch=cfg.patch,
        max_steps=24,
        max_periods=WINDOW,
        num_periods=WINDOW,
        hidden=cfg.hidden,
        overlap=cfg.overlap,
        spatial_depth=cfg.spatial_depth,
        num_heads=cfg.num_heads,
    )


def _train(model, hourly, daily, mu, sd, cfg, log) -> dict:
    """hourly (N, 1, 31, 24, h, w), daily (N, 31, h, w), both complete, in K."""
    rng = np.random.default_rng(cfg.seed + 1)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    n_tiles = hourly.shape[0]
    padded = torch.zeros(cfg.batch, WINDOW, 24, dtype=torch.bool)
    start, steps, losses = time.monotonic(), 0, []
    model.train()
    budget = cfg.minutes * 60
    while (elapsed := time.monotonic() - start) < budget:
        if cfg.max_steps is not None and steps >= cfg.max_steps:
            break
        # cosine decay of the learning rate over the time budget (from lr to 0)
        for group in opt.param_groups:
            group["lr"] = cfg.lr * 0.5 * (1.0 + math.cos(math.pi * min(elapsed / budget, 1.0)))
        tiles = rng.integers(0, n_tiles, cfg.batch)
        days = rng.integers(0, TRAIN_DAYS - WINDOW + 1, cfg.batch)
        x = np.stack([hourly[t, :, d : d + WINDOW] for t, d in zip(tiles, days, strict=True)])
        y = np.stack([daily[t, d : d + WINDOW] for t, d in zip(tiles, days, strict=True)])
        miss = np.stack(
            [
                cloud_mask((WINDOW * 24, *TILE), cfg.fraction, cfg.scale, int(s))
                for s in rng.integers(0, 2**31, cfg.batch)
            ]
        ).reshape(cfg.batch, 1, WINDOW, 24, *TILE)
        x_t = torch.from_numpy((x - mu) / sd).float()
        y_t = torch.from_numpy((y - mu) / sd).float()
        pred = model(x_t, torch.from_numpy(miss), padded)["pred"]
        loss = masked_l1(pred, y_t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item() * sd)
        steps += 1
        if steps % 100 == 0:
            log(f"step {steps}: masked L1 {np.mean(losses[-100:]):.3f} K")
    return {
        "steps": steps,
        "seconds": time.monotonic() - start,
        "last_100_l1_K": float(np.mean(losses[-100:])) if losses else float("nan"),
    }


def _score(preds: dict[str, np.ndarray], truth, valid, labels, lat) -> dict:
    """ForecastMetrics per method: the test days as leads, (1, P, 1, H, W) tensors."""
    out = {}
    for name, p in preds.items():
        fm = ForecastMetrics(["t2m"], lead_times=labels, lat=lat, units={"t2m": "K"})
        v = torch.from_numpy(valid)[None, :, None]
        fm.update(
            torch.from_numpy(np.nan_to_num(p))[None, :, None].double(),
            torch.from_numpy(truth)[None, :, None].double(),
            valid=v,
        )
        out[name] = fm.compute()
    return out


def run_t2m_gapfill(out_dir: str | Path, cfg: GapfillRunConfig | None = None, log=print) -> Path:
    """Train a small SpatioTemporalModel and score it; write table, figure and config.

    Returns the Markdown table path (``out_dir/gapfill_table.md``); also writes
    ``gapfill_table.csv``/``.json``, ``gapfill_daily_rmse.md``, ``gapfill_maps.png``,
    ``config.json`` and ``train.json``.
    """
    cfg = cfg or GapfillRunConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    field = _load()
    lat, lon = field["lat"].values.copy(), field["lon"].values.copy()
    hourly_all = field.values.astype(np.float64)  # (744, H, W)
    truth_daily = hourly_all.reshape(31, 24, *GRID).mean(axis=1)  # (31, H, W)
    full = build_period_layout(field, "day", tile=TILE)
    daily_tiles = tile_maps(truth_daily, TILE)
    train_hours = hourly_all[: TRAIN_DAYS * 24]
    mu, sd = float(train_hours.mean()), float(train_hours.std())

    model = _model(cfg)
    log(
        f"model: {sum(p.numel() for p in model.parameters()):,} parameters; training "
        f"{cfg.minutes} min on 1-{TRAIN_DAYS} March"
    )
    train_info = _train(model, full.values, daily_tiles, mu, sd, cfg, log)

    # the fixed test gaps, through the xarray layout builder like any gappy field
    eval_mask = cloud_mask(hourly_all.shape, cfg.fraction, cfg.scale, cfg.seed)
    gapped = field.where(~eval_mask)
    lay = build_period_layout(gapped, "day", tile=TILE)
    test = slice(TRAIN_DAYS, 31)
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy((lay.values[:, :, test] - mu) / sd).float()
        pred = model(
            x, torch.from_numpy(lay.missing[:, :, test]), torch.from_numpy(lay.padded[:, test])
        )["pred"].double()
    model_daily = untile_maps(pred.numpy() * sd + mu, GRID)  # (7, H, W)

    values = hourly_all.reshape(31, 24, *GRID)
    observed = ~eval_mask.reshape(31, 24, *GRID)
    obs_mean = baselines.observed_mean(values, observed)
    clim = baselines.climatology_mean(values, observed)
    if np.isnan(clim).any():
        raise ValueError("climatology undefined at a pixel-hour never observed; lower fraction")
    hybrid = baselines.observed_or_climatology(values, observed)
    preds = {
        "model": model_daily,
        "observed mean (clim. where none)": np.where(np.isnan(obs_mean), clim, obs_mean)[test],
        "climatology": clim[test],
        "observed + hourly clim. fill": hybrid[test],
    }
    truth = truth_daily[test]
    n_hidden = (~observed[test]).sum(axis=1)  # (7, H, W)
    labels = [f"2019-03-{d + 1:02d}" for d in range(TRAIN_DAYS, 31)]
    scopes = {"gapped": n_hidden > 0, "hidden": n_hidden == 24}
    tables = {s: _score(preds, truth, v, labels, lat) for s, v in scopes.items()}
    columns = [f"{m} {s}" for s in scopes for m in ("rmse", "mae")]
    values_rows = [
        [tables[s][name].value(m, "t2m", "all", "plain") for s in scopes for m in ("rmse", "mae")]
        for name in preds
    ]
    frac = {s: float(v.mean()) for s, v in scopes.items()}
    summary = WideTable(
        "method",
        list(preds),
        columns,
        values_rows,
        title=f"t2m daily means from gappy hours, 25-31 March 2019 [K], {cfg.fraction:.0%} of "
        "hours hidden",
        notes=[
            f"gapped: pixel-days with >= 1 hidden hour ({frac['gapped']:.1%} of test pixel-days);"
            f" hidden: all 24 hours hidden ({frac['hidden']:.1%})",
            "RMSE = sqrt(pooled MSE) over those pixel-days, unweighted (plain); from "
            "geostl.metrics.ForecastMetrics",
            f"model trained {train_info['steps']} steps ({train_info['seconds']:.0f} s) on "
            f"1-{TRAIN_DAYS} March with fresh cloud masks",
        ],
    )
    (out / "gapfill_table.md").write_text(summary.to_markdown() + "\n")
    summary.to_csv(out / "gapfill_table.csv")
    summary.to_json(out / "gapfill_table.json")
    from geostl.metrics import compare_tables

    daily = compare_tables(tables["gapped"], "rmse", "t2m", "plain")
    (out / "gapfill_daily_rmse.md").write_text(daily.to_markdown() + "\n")
    gapped_mean = np.where(np.isnan(obs_mean), np.nan, obs_mean)[test]
    rows = [0, 3]
    reconstruction_figure(
        out / "gapfill_maps.png",
        truth[rows],
        gapped_mean[rows],  # mean of the observed hours, blank where none
        {k: preds[k][rows] for k in ("model", "observed + hourly clim. fill")},
        [labels[r] for r in rows],
        lat,
        lon,
    )
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    (out / "train.json").write_text(json.dumps(train_info, indent=2))
    log(summary.to_markdown())
    return out / "gapfill_table.md"
