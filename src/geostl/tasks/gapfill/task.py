"""The gap-filling task through the one pipeline: ``geostl train --config`` / ``geostl test``.

Flow: the resolved config (schema :data:`geostl.tasks.gapfill.schema.GAPFILL_SPEC`) ->
:func:`build_gapfill_datasets` (train / val / test, chronological) -> :class:`GapfillModel`
(the SpatioTemporalModel with its masked-L1 ``loss(batch)``) -> :class:`geostl.engine.Trainer`
(fixed number of steps: ``train.epochs`` x ``train.max_steps_per_epoch``; ``best.pt`` on the
validation loss, ``last.pt``, resume) -> :func:`evaluate_gapfill` on the test days from
``best.pt`` -> ``metrics.json`` / ``metrics.md`` (written atomically) and ``gapfill_maps.png``.

Scores (K, after de-normalising) are RMSE and MAE from :class:`geostl.metrics.ForecastMetrics`
(additive weighted sums, divided at the end) over the test pixel-days with at least one hidden
hour ("gapped") and with all 24 hidden ("hidden"), for the model and the baselines of
:mod:`geostl.tasks.gapfill.baselines` computed from the same gapped input (the climatology uses
every observed value of the month: it is part of the input).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from geostl.engine import Trainer, dist_info, load_checkpoint, seed_everything
from geostl.metrics import ForecastMetrics, MetricTable, WideTable, compare_tables
from geostl.runconfig import ConfigError, merge, parse_override, run_dir, save_config
from geostl.runconfig.spec import check
from geostl.tasks.gapfill import baselines
from geostl.tasks.gapfill.data import GapfillField, build_gapfill_datasets
from geostl.tasks.gapfill.layout import untile_maps
from geostl.tasks.gapfill.loss import masked_l1_terms
from geostl.tasks.gapfill.model import SpatioTemporalModel
from geostl.tasks.gapfill.schema import GAPFILL_SPEC, check_gapfill_data
from geostl.tasks.registry import TASKS, Task

__all__ = ["GapfillModel", "evaluate_gapfill", "test_gapfill", "train_gapfill"]

HOURS = 24


class GapfillModel(nn.Module):
    """SpatioTemporalModel over one tile and ``periods`` days of 24 hours, with its loss.

    ``forward(batch) -> {"pred": (B, M, h, w)}`` normalised daily means; ``loss(batch) ->
    (masked L1, {"loss_sum", "count"})`` in normalised units (``loss = loss_sum / count``,
    counts are days). ``constructor_args()`` rebuilds it from a checkpoint.
    """

    def __init__(
        self,
        periods: int = 7,
        embed_dim: int = 32,
        patch: tuple[int, int, int] | list[int] = (1, 4, 4),
        hidden: int = 64,
        overlap: int = 1,
        spatial_depth: int = 1,
        num_heads: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self._args = {
            "periods": int(periods),
            "embed_dim": int(embed_dim),
            "patch": [int(p) for p in patch],
            "hidden": int(hidden),
            "overlap": int(overlap),
            "spatial_depth": int(spatial_depth),
            "num_heads": int(num_heads),
            "dropout": float(dropout),
        }
        self.net = SpatioTemporalModel(
            embed_dim=embed_dim,
            patch=tuple(patch),
            max_steps=HOURS,
            max_periods=periods,
            num_periods=periods,
            hidden=hidden,
            overlap=overlap,
            spatial_depth=spatial_depth,
            num_heads=num_heads,
            dropout=dropout,
        )

    def constructor_args(self) -> dict[str, Any]:
        """``{"model_cfg": {"task": "gapfill", **kwargs}, "meta": {}}`` (rebuilt by
        :func:`geostl.engine.build_model_from_checkpoint` through ``TASKS``)."""
        return {"model_cfg": {"task": "gapfill", **self._args}, "meta": {}}

    def forward(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.net(batch["inputs"], batch["missing"], batch["padded"])

    def loss(
        self, batch: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Masked L1 (ClimaNet; no land in this task) and its additive terms."""
        pred = self(batch)["pred"]
        total, count = masked_l1_terms(pred.float(), batch["targets"].float())
        return total / count, {"loss_sum": total.detach(), "count": count.detach()}


def build_gapfill_model(model_cfg: Mapping[str, Any], data_cfg: Mapping[str, Any]) -> GapfillModel:
    """The model of the resolved ``model`` section, for ``data.window`` days."""
    if len(model_cfg["patch"]) != 3:
        raise ValueError(f"model.patch: expected [Pt, Ph, Pw], got {model_cfg['patch']}")
    return GapfillModel(periods=int(data_cfg["window"]), **dict(model_cfg))


# -- evaluation -------------------------------------------------------------------------------
@torch.no_grad()
def _predict(model: nn.Module, dataset, field: GapfillField, batch_size: int) -> np.ndarray:
    """Daily means (K) of every test day, (D_test, H, W) float64, assembled from the tiles."""
    first, last = field.splits["test"]
    n_days = last - first + 1
    M = field.window
    out = np.full((dataset.n_tiles, n_days, *field.tile), np.nan)
    model.eval()
    device = next(model.parameters()).device
    for batch in DataLoader(dataset, batch_size, shuffle=False):
        pred = model({k: v.to(device) for k, v in batch.items()})["pred"].double().cpu().numpy()
        for p, t, d in zip(pred, batch["tile"].tolist(), batch["day"].tolist(), strict=True):
            out[t, d - (first - 1) : d - (first - 1) + M] = p
    if np.isnan(out).any():
        raise AssertionError("test windows do not cover every tile and test day")
    return untile_maps(out * field.std + field.mean, field.grid)


def _score(preds, truth, valid, labels, lat, name) -> dict[str, MetricTable]:
    """ForecastMetrics per method: the test days as leads, (1, D, 1, H, W) tensors."""
    out = {}
    for method, p in preds.items():
        fm = ForecastMetrics([name], lead_times=labels, lat=lat, units={name: "K"})
        fm.update(
            torch.from_numpy(p)[None, :, None].double(),
            torch.from_numpy(truth)[None, :, None].double(),
            valid=torch.from_numpy(valid)[None, :, None],
        )
        out[method] = fm.compute()
    return out


def evaluate_gapfill(
    model: nn.Module, field: GapfillField, test, batch_size: int = 8
) -> dict[str, Any]:
    """Model and baselines on the test days under the fixed cloud mask.

    Returns ``{"tables": {scope: {method: MetricTable}}, "summary": WideTable, "preds":
    {method: (D, H, W) K}, "truth": (D, H, W) K, "gapped_mean": (D, H, W), "labels"}``.
    """
    first, last = field.splits["test"]
    test_days = slice(first - 1, last)
    days = field.daily.shape[0]
    values = field.hourly.reshape(days, HOURS, *field.grid)
    observed = ~field.eval_missing.reshape(days, HOURS, *field.grid)
    obs_mean = baselines.observed_mean(values, observed)
    clim = baselines.climatology_mean(values, observed)
    if np.isnan(clim).any():
        raise ValueError("climatology undefined at a pixel-hour never observed; lower fraction")
    preds = {
        "model": _predict(model, test, field, batch_size),
        "observed mean (clim. where none)": np.where(np.isnan(obs_mean), clim, obs_mean)[test_days],
        "climatology": clim[test_days],
        "observed + hourly clim. fill": baselines.observed_or_climatology(values, observed)[
            test_days
        ],
    }
    truth = field.daily[test_days]
    n_hidden = (~observed[test_days]).sum(axis=1)  # (D, H, W)
    import pandas as pd

    month = pd.Timestamp("2019-03-01")  # the t2m sample's month; labels only
    labels = [str((month + pd.Timedelta(days=d)).date()) for d in range(first - 1, last)]
    scopes = {"gapped": n_hidden > 0, "hidden": n_hidden == HOURS}
    tables = {s: _score(preds, truth, v, labels, field.lat, field.name) for s, v in scopes.items()}
    columns = [f"{m} {s}" for s in scopes for m in ("rmse", "mae")]
    rows = [
        [tables[s][k].value(m, field.name, "all", "plain") for s in scopes for m in ("rmse", "mae")]
        for k in preds
    ]
    frac = {s: float(v.mean()) for s, v in scopes.items()}
    summary = WideTable(
        "method",
        list(preds),
        columns,
        rows,
        title=f"{field.name} daily means from gappy hours, days {first}-{last} [K], "
        f"{float(field.eval_missing.mean()):.0%} of hours hidden",
        notes=[
            f"gapped: pixel-days with >= 1 hidden hour ({frac['gapped']:.1%} of test pixel-days);"
            f" hidden: all 24 hours hidden ({frac['hidden']:.1%})",
            "RMSE = sqrt(pooled MSE) over those pixel-days, unweighted (plain); from "
            "geostl.metrics.ForecastMetrics",
        ],
    )
    gapped_mean = np.where(np.isnan(obs_mean), np.nan, obs_mean)[test_days]
    return {
        "tables": tables,
        "summary": summary,
        "preds": preds,
        "truth": truth,
        "gapped_mean": gapped_mean,
        "labels": labels,
        "fractions": frac,
    }


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_gapfill_report(
    result: Mapping[str, Any], field: GapfillField, out: Path, label: str, figures: bool = True
) -> None:
    """metrics.json (every MetricTable + the summary), metrics.md, gapfill_maps.png."""
    out.mkdir(parents=True, exist_ok=True)
    tables = result["tables"]
    summary: WideTable = result["summary"]
    combined = {
        "checkpoint": label,
        "task": "gapfill",
        "scopes": {
            "gapped": "test pixel-days with >= 1 hidden hour",
            "hidden": "test pixel-days with all 24 hours hidden",
        },
        "fractions": result["fractions"],
        "summary": summary.to_dict(),
        "tables": {s: {k: t.to_dict() for k, t in by.items()} for s, by in tables.items()},
    }
    _write_atomic(out / "metrics.json", json.dumps(combined, indent=1, allow_nan=False) + "\n")
    daily = compare_tables(tables["gapped"], "rmse", field.name, "plain")
    text = f"# Test metrics of {label}\n\n{summary.to_markdown()}\n\n{daily.to_markdown()}\n"
    _write_atomic(out / "metrics.md", text)
    print(summary.to_markdown())
    if figures:
        from geostl.tasks.gapfill.figure import reconstruction_figure

        rows = [0, min(3, len(result["labels"]) - 1)]
        reconstruction_figure(
            out / "gapfill_maps.png",
            result["truth"][rows],
            result["gapped_mean"][rows],  # mean of the observed hours, blank where none
            {k: result["preds"][k][rows] for k in ("model", "observed + hourly clim. fill")},
            [result["labels"][r] for r in rows],
            field.lat,
            field.lon,
        )


# -- entry points -----------------------------------------------------------------------------
def _check(cfg: Mapping[str, Any]) -> None:
    check_gapfill_data(cfg["data"])
    if cfg["train"]["max_steps_per_epoch"] is None:
        raise ValueError(
            "train.max_steps_per_epoch: the gap-filling task needs a fixed number of steps "
            "(steps = train.epochs x train.max_steps_per_epoch); got null"
        )


def train_gapfill(
    cfg: Mapping[str, Any], resume: str | Path | None = None, progress: bool | None = None
) -> Path:
    """Train (Trainer), then evaluate ``best.pt`` on the test days; returns the run dir."""
    _check(cfg)
    seed = int(cfg["train"]["seed"])
    seed_everything(seed)
    out = run_dir(cfg)
    field, datasets = build_gapfill_datasets(cfg["data"], seed)
    model = build_gapfill_model(cfg["model"], cfg["data"])
    if dist_info().is_main:
        save_config(cfg, out / "config.yaml")
        n = sum(p.numel() for p in model.parameters())
        print(f"gapfill: {n:,} parameters; {len(datasets['train'])} train windows")
    trainer = Trainer(model, datasets, cfg["train"], None, out, dict(cfg), progress, resume=resume)
    summary = trainer.fit()
    if dist_info().is_main:
        print(
            f"trained {summary['global_step']} steps; best validation masked L1 "
            f"{summary['best_val_loss'] * field.std:.4g} K at epoch {summary['best_epoch']}"
        )
        best = out / "best.pt"
        model = model_from_checkpoint(load_checkpoint(best))
        result = evaluate_gapfill(model, field, datasets["test"], int(cfg["eval"]["batch_size"]))
        write_gapfill_report(result, field, out, str(best), bool(cfg["eval"]["figures"]))
    return out


def _rebuild(model_cfg: Mapping[str, Any], meta: Mapping[str, Any]) -> GapfillModel:
    """``Task.build_model``: the GapfillModel of a checkpoint's ``constructor_args``."""
    return GapfillModel(**{k: v for k, v in model_cfg.items() if k != "task"})


def model_from_checkpoint(ckpt: Mapping[str, Any]) -> nn.Module:
    """Rebuild the GapfillModel of a checkpoint and load its weights."""
    from geostl.engine import build_model_from_checkpoint

    return build_model_from_checkpoint(ckpt)


def test_gapfill(
    ckpt_path: str | Path,
    out: str | Path | None = None,
    progress: bool | None = None,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """``geostl test --ckpt``: the checkpoint's config rebuilds the data and the fixed test
    mask; writes metrics.json / metrics.md into ``out`` (default ``RUN/test``).

    ``overrides``: dotted ``eval.KEY=VALUE`` settings (``eval.batch_size``, ``eval.figures``);
    the data, the test mask and the model stay the checkpoint's.
    """
    ckpt = load_checkpoint(ckpt_path)
    cfg = dict(ckpt["config"])
    for text in overrides:
        layer = parse_override(text)
        if set(layer) != {"eval"}:
            raise ConfigError(
                f"override {text!r}: only eval.* settings can change at test time (the data, "
                "the test mask and the model are the checkpoint's)"
            )
        check(layer, GAPFILL_SPEC, origin=f"override {text!r}")
        cfg = merge(cfg, layer)
    field, datasets = build_gapfill_datasets(cfg["data"], int(cfg["train"]["seed"]))
    model = model_from_checkpoint(ckpt)
    result = evaluate_gapfill(model, field, datasets["test"], int(cfg["eval"]["batch_size"]))
    target = Path(out) if out is not None else Path(ckpt_path).parent / "test"
    write_gapfill_report(result, field, target, str(ckpt_path), bool(cfg["eval"]["figures"]))
    return result


TASKS.register(
    Task(
        name="gapfill",
        spec=GAPFILL_SPEC,
        train=train_gapfill,
        test=test_gapfill,
        description="ClimaNet gap-filling: gappy hourly maps -> daily means (masked transformer)",
        build_model=_rebuild,
    )
)
