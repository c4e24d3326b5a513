"""Simple gap-filling baselines for period means of gappy fine steps (float64).

All take ``values`` (M, T, H, W) and ``observed`` (M, T, H, W) bool (True = the value was
observed: not missing, not padding) and return (M, H, W) period means:

* :func:`observed_mean` -- mean of the observed steps of each pixel and period; NaN where a
  pixel has no observed step in that period (returned as is: the caller decides).
* :func:`step_climatology` -- (T, H, W) mean over all periods with an observation, per pixel and
  step (e.g. per hour of day); NaN where a pixel never has that step observed.
* :func:`climatology_mean` -- the same map for every period: the mean over steps of the
  step climatology (the pixel's mean diurnal cycle).
* :func:`observed_or_climatology` -- each missing step replaced by the pixel's climatology of
  that step, then averaged over the steps: the observed mean corrected for which hours are gone.
"""

from __future__ import annotations

import numpy as np

__all__ = ["climatology_mean", "observed_mean", "observed_or_climatology", "step_climatology"]


def _check(values: np.ndarray, observed: np.ndarray) -> None:
    if values.ndim != 4 or observed.shape != values.shape:
        raise ValueError(
            f"values {values.shape} and observed {observed.shape}: expected the same "
            "(M, T, H, W) shape"
        )
    if not np.isfinite(values[observed]).all():
        raise ValueError("values: NaN or inf at an observed step; mark it not observed")


def observed_mean(values: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """(M, H, W) mean over observed steps; NaN where none is observed."""
    _check(values, observed)
    v = np.where(observed, values, 0.0).astype(np.float64)
    n = observed.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, v.sum(axis=1) / n, np.nan)


def step_climatology(values: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """(T, H, W) mean over periods of the observed values of each step; NaN where none."""
    _check(values, observed)
    v = np.where(observed, values, 0.0).astype(np.float64)
    n = observed.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, v.sum(axis=0) / n, np.nan)


def climatology_mean(values: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """(M, H, W): every period gets the pixel's mean over steps of the step climatology."""
    clim = step_climatology(values, observed).mean(axis=0)
    return np.broadcast_to(clim, (values.shape[0], *clim.shape)).copy()


def observed_or_climatology(values: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """(M, H, W) mean over steps of (observed value, else the step climatology)."""
    clim = step_climatology(values, observed)
    filled = np.where(observed, values.astype(np.float64), clim[None])
    return filled.mean(axis=1)
