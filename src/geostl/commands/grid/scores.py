"""A grid cell's scores (MSE, RMSE, MAE per regime) and its size and speed.

Scores use :class:`geostl.metrics.ForecastMetrics` (additive float64 weighted sums), one
accumulator for all test windows and one per regime, fed from
:func:`geostl.engine.predict_windows` (forecasts in physical units). The weights are the
evaluation's: target validity x area mask x :func:`geostl.metrics.meridian_weights` (a repeated
meridian counts once), times cos(latitude) for the ``lat`` weighting (a pixel grid has neither:
area mask only, ``plain`` weighting). Reported, pooled over every window, lead time and pixel
(lead ``all``):

- ``mse``: plain weighting (per-pixel mean squared error, physical units squared);
- ``rmse``: lat weighting (plain on a pixel grid), the square root of the pooled weighted MSE;
- ``mae`` (all windows and per regime): lat weighting (plain on a pixel grid).

Complexity: :func:`geostl.benchmark.benchmark_model` on the Forecaster with batches of real
test windows: parameters, MACs of one sample (``torch.utils.flop_counter``), and inference
throughput in sequences/s on the run's device.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import default_collate

from geostl.benchmark import benchmark_model
from geostl.engine import predict_windows
from geostl.engine.evaluate import area_weights
from geostl.metrics import ForecastMetrics
from geostl.metrics.table import preferred_weighting

__all__ = ["ALL_WINDOWS", "measure_complexity", "score_windows"]

ALL_WINDOWS = "all"


def score_windows(
    model: torch.nn.Module,
    dataset,
    groups: Mapping[str, np.ndarray],
    target: str,
    batch_size: int = 8,
    device: torch.device | str | None = None,
) -> dict[str, Any]:
    """Score ``model`` on every window of ``dataset`` and on each group of windows.

    Args:
        model: a Forecaster.
        dataset: a WindowDataset (the test split).
        groups: ``{regime: (N,) bool}`` over the dataset's windows.
        target: the target variable scored.
        batch_size: windows per forward pass.

    Returns:
        ``{"units", "weighting", "n_windows", "mse", "rmse", "mae", "regimes": {name:
        {"n_windows", "mae", "rmse"}}}`` (``weighting`` of rmse and mae: ``lat``, or ``plain``
        on a pixel grid); a regime without windows has ``mae``/``rmse`` None.
    """
    names = list(dataset.target_names)
    if target not in names:
        raise KeyError(f"target {target!r} is not a target variable of the dataset {names}")
    n = len(dataset)
    masks = {ALL_WINDOWS: np.ones(n, dtype=bool)}
    for name, mask in groups.items():
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (n,):
            raise ValueError(f"regime {name!r}: expected a ({n},) window mask, got {mask.shape}")
        masks[name] = mask
    area = area_weights(dataset)
    metrics = {
        g: ForecastMetrics(names, lat=dataset.lat, area_mask=area, units=dataset.units)
        for g in masks
    }
    weighted = preferred_weighting(metrics[ALL_WINDOWS].weightings)
    # the truth as read, in physical units (as the run's own evaluation scores it), not the
    # float32 normalised targets transformed back
    physical = dataset.with_physical_values()
    for batch, pred in predict_windows(model, physical, batch_size, device):
        valid = batch["target_mask"]
        truth = torch.where(valid, batch["targets_physical"].double(), 0.0)
        index = batch["index"].numpy()
        for g, acc in metrics.items():
            rows = torch.from_numpy(masks[g][index])
            if bool(rows.any()):
                acc.update(pred[rows], truth[rows], valid[rows])
    tables = {g: m.compute() for g, m in metrics.items() if int(masks[g].sum()) > 0}

    def value(g: str, metric: str, weighting: str) -> float | None:
        if g not in tables:
            return None
        return float(tables[g].value(metric, target, "all", weighting))

    return {
        "units": dataset.units.get(target, ""),
        "weighting": weighted,
        "n_windows": n,
        "mse": value(ALL_WINDOWS, "mse", "plain"),
        "rmse": value(ALL_WINDOWS, "rmse", weighted),
        "mae": value(ALL_WINDOWS, "mae", weighted),
        "regimes": {
            g: {
                "n_windows": int(masks[g].sum()),
                "mae": value(g, "mae", weighted),
                "rmse": value(g, "rmse", weighted),
            }
            for g in groups
        },
    }


def measure_complexity(
    model: torch.nn.Module,
    dataset,
    device: str | torch.device,
    batch_size: int,
    warmup: int = 1,
    batches: int = 3,
) -> dict[str, Any]:
    """Parameters, MACs of one sample and inference throughput of ``model`` on real windows.

    Batches are the first ``batch_size`` windows of ``dataset`` (repeated when it has fewer).
    Returns ``{"params", "macs", "flops", "infer_seq_per_s", "infer_peak_mem_bytes",
    "memory_method", "device", "device_name", "threads", "batch_size", "warmup", "batches"}``.
    """

    def inputs(b: int) -> dict[str, torch.Tensor]:
        return default_collate([dataset[i % len(dataset)] for i in range(b)])

    res = benchmark_model(
        model,
        inputs,
        batch_size,
        device=device,
        warmup=warmup,
        iters=batches,
        train=False,
        matmul_n=0,
    )
    return {
        "params": int(res["params"]),
        "macs": int(res["macs"]),
        "flops": int(res["flops"]),
        "infer_seq_per_s": float(res["infer_seq_per_s"]),
        "infer_peak_mem_bytes": int(res["infer_peak_mem_bytes"]),
        "memory_method": res["memory_method"],
        "device": res["device"],
        "device_name": res["device_name"],
        "threads": int(res["threads"]),
        "batch_size": batch_size,
        "warmup": warmup,
        "batches": batches,
    }
