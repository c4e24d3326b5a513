"""Windows of the ENSO experiment: monthly SST inputs with Niño 3.4 / phase targets per lead.

Item i (months index into the common monthly axis): x = SST months i .. i+T−1 (normalised, land 0,
laid out (T, 1, lon, lat) like the seed), y_sst = SST month i+T (normalised), y_index[l] =
Niño 3.4 anomaly of month i+T+l (normalised), y_phase[l] = phase of month i+T+l, l = 0..L−1
(lead l + 1 months after the last input month).

Normalisation follows the seed (spec §4.1): SST z-scored with the mean and standard deviation
of all non-NaN cells of the **training months**, then land/missing set to 0; the index z-scored
with the training months' mean and standard deviation. A grid cell is ocean when it is finite
in every month used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr


@dataclass(frozen=True)
class EnsoWindows:
    """Tensors of one split; see the module docstring for the layout.

    Attributes:
        x: (N, T, 1, W, H) float32. sst: (N, 1, W, H) float32.
        index: (N, L) float32 normalised. phase: (N, L) int64.
        start: (N,) month position of each window's first input month.
    """

    x: torch.Tensor
    sst: torch.Tensor
    index: torch.Tensor
    phase: torch.Tensor
    start: np.ndarray


@dataclass(frozen=True)
class EnsoStats:
    """Training-period normalisation constants (°C)."""

    sst_mean: float
    sst_std: float
    index_mean: float
    index_std: float


def crop_latitudes(sst: xr.DataArray, south: float = -55.0, north: float = 60.0) -> xr.DataArray:
    """Keep rows whose cell centres lie in [south, north] (seed: 55°S..60°N)."""
    lat = sst["lat"].values
    keep = (lat >= south) & (lat <= north)
    if not keep.any():
        raise ValueError(f"no latitude of {sst.name!r} within {south}..{north}")
    return sst.isel(lat=np.flatnonzero(keep))


def fit_stats(sst: np.ndarray, index: np.ndarray) -> EnsoStats:
    """Stats of training months: sst (T, lat, lon) with NaN land, index (T,)."""
    finite = sst[np.isfinite(sst)].astype(np.float64)
    if finite.size == 0 or np.isnan(index).any():
        raise ValueError("training SST has no finite value, or the training index has NaN")
    return EnsoStats(
        float(finite.mean()), float(finite.std()), float(index.mean()), float(index.std())
    )


def normalise_frames(sst: np.ndarray, stats: EnsoStats, ocean: np.ndarray) -> np.ndarray:
    """The model's input frames of SST months: z-scored, land 0, longitude first.

    Args:
        sst: (T, lat, lon) °C (the configured variable's units), NaN on land.
        stats: the training months' constants.
        ocean: (lat, lon) bool, the cells that are ocean in the model's mask.

    Returns:
        (T, lon, lat) float64 normalised SST, 0 outside ``ocean``.
    """
    z = (sst.astype(np.float64) - stats.sst_mean) / stats.sst_std
    return np.where(ocean[None], z, 0.0).transpose(0, 2, 1)  # (T, lon, lat) as the seed


def make_windows(
    sst: np.ndarray,
    index: np.ndarray,
    phase: np.ndarray,
    starts: np.ndarray,
    n_input: int,
    n_leads: int,
    stats: EnsoStats,
    ocean: np.ndarray,
) -> EnsoWindows:
    """Build the windows starting at ``starts`` (see module docstring).

    Args:
        sst: (T, lat, lon) °C with NaN land. index: (T,) °C. phase: (T,) codes.
        starts: first input month of each window; every window must fit in T.
        ocean: (lat, lon) bool, True where SST is finite throughout.
    """
    months = sst.shape[0]
    if len(starts) == 0 or starts.min() < 0 or starts.max() + n_input + n_leads > months:
        raise ValueError(
            f"windows of {n_input} inputs + {n_leads} leads do not fit in {months} months"
        )
    z = normalise_frames(sst, stats, ocean)
    zi = (index - stats.index_mean) / stats.index_std
    x = np.stack([z[s : s + n_input] for s in starts])[:, :, None]
    y_sst = np.stack([z[s + n_input] for s in starts])[:, None]
    leads = np.stack([np.arange(s + n_input, s + n_input + n_leads) for s in starts])
    return EnsoWindows(
        x=torch.from_numpy(x.astype(np.float32)),
        sst=torch.from_numpy(y_sst.astype(np.float32)),
        index=torch.from_numpy(zi[leads].astype(np.float32)),
        phase=torch.from_numpy(phase[leads].astype(np.int64)),
        start=np.asarray(starts),
    )
