"""Geophysical forecast metrics as additive weighted sums.

Every metric is a ratio of float64 sums (sum of weight x error, sum of weight) accumulated over
batches, combined across processes with ``torch.distributed`` and divided only at the end. The
weight is validity mask x land/ocean mask, optionally x cos(latitude).

Public API:
    latitude_weights, meridian_weights, combine_weights -- weights (``weights.py``)
    WeightedSums                        -- additive float64 accumulator (``accumulator.py``)
    ForecastMetrics                     -- MSE/MAE/RMSE/bias/ACC/skill (+SSIM/PSNR) per lead/channel
    EnsembleMetrics                     -- CRPS, spread-skill, coverage, Brier, rank/PIT histograms
    ssim, psnr                          -- per-frame image metrics with explicit data range
    MetricTable, WideTable, compare_tables -- results as tables (Markdown/CSV/JSON)
"""

from geostl.metrics.accumulator import WeightedSums
from geostl.metrics.ensemble import EnsembleMetrics
from geostl.metrics.forecast import ForecastMetrics
from geostl.metrics.image import psnr, ssim, ssim_window
from geostl.metrics.table import MetricTable, WideTable, compare_tables
from geostl.metrics.weights import (
    check_area_mask,
    combine_weights,
    latitude_weights,
    meridian_weights,
)

__all__ = [
    "EnsembleMetrics",
    "ForecastMetrics",
    "MetricTable",
    "WeightedSums",
    "WideTable",
    "check_area_mask",
    "combine_weights",
    "compare_tables",
    "latitude_weights",
    "meridian_weights",
    "psnr",
    "ssim",
    "ssim_window",
]
