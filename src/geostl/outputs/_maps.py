"""Shared helpers of the map figures: arrays, masks, image extent on lat/lon or pixel rows and
columns, labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from geostl.data import GridAdjust


def as_numpy(x: Any, what: str) -> np.ndarray:
    """Tensor/array -> float64 numpy array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def prepare_fields(
    truth: Any,
    pred: Any,
    valid: Any | None,
    lat: Any,
    lon: Any,
    grid_adjust: GridAdjust | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check shapes, undo padding and set invalid pixels to NaN.

    Args:
        truth, pred: (T, H, W) one channel in physical units.
        valid: (T, H, W) or (H, W) bool, True = valid (None: all valid where finite).
        lat, lon: (H,), (W,) degrees (the padded coordinates are cut with ``grid_adjust``).

    Returns:
        ``truth, pred, lat, lon`` with NaN where ``valid`` is False or truth is not finite.
    """
    t, p = as_numpy(truth, "truth"), as_numpy(pred, "pred")
    if t.ndim != 3 or p.shape != t.shape:
        raise ValueError(
            f"truth and pred: expected the same (T, H, W) shape, got {t.shape} and {p.shape}"
        )
    ok = np.ones(t.shape, dtype=bool) if valid is None else as_numpy(valid, "valid").astype(bool)
    ok = np.broadcast_to(ok, t.shape) if ok.ndim == 2 else ok
    if ok.shape != t.shape:
        raise ValueError(f"valid: shape {ok.shape} does not match the fields {t.shape}")
    la, lo = as_numpy(lat, "lat").ravel(), as_numpy(lon, "lon").ravel()
    if grid_adjust is not None and t.shape[-2:] == grid_adjust.shape:
        t, p, ok = grid_adjust.undo(t), grid_adjust.undo(p), grid_adjust.undo(ok)
        la, lo = la[: t.shape[-2]], lo[: t.shape[-1]]
    if (la.size, lo.size) != t.shape[-2:]:
        raise ValueError(
            f"lat ({la.size}) and lon ({lo.size}) do not match the grid {t.shape[-2:]}"
        )
    ok = ok & np.isfinite(t)
    return np.where(ok, t, np.nan), np.where(ok, p, np.nan), la, lo


def _step(v: np.ndarray, name: str) -> float:
    if v.size < 2:
        return 1.0
    d = np.diff(v)
    if not (np.all(d > 0) or np.all(d < 0)) or not np.allclose(d, d[0], rtol=1e-4, atol=1e-6):
        raise ValueError(f"{name}: expected evenly spaced, monotonic coordinates to draw a map")
    return float(d[0])


AXIS_LABELS = {
    "latlon": ("longitude (deg E)", "latitude (deg N)"),
    "pixel": ("column x (pixels)", "row y (pixels, top to bottom)"),
}
"""(x-axis, y-axis) labels of the map figures per grid kind (see geostl.data.pixelgrid)."""


def axis_labels(grid: str) -> tuple[str, str]:
    """``(xlabel, ylabel)`` for a ``latlon`` or ``pixel`` grid."""
    if grid not in AXIS_LABELS:
        raise ValueError(f"grid: expected one of {sorted(AXIS_LABELS)}, got {grid!r}")
    return AXIS_LABELS[grid]


def image_extent(lat: np.ndarray, lon: np.ndarray, grid: str = "latlon") -> tuple[list[float], str]:
    """``(extent, origin)`` for ``imshow`` of an (H, W) array on these coordinates.

    Row 0 is ``lat[0]``: with latitudes descending (IONEX order) it is drawn at the top
    (``origin="upper"``), ascending at the bottom (``origin="lower"``); the array itself is
    passed unchanged. Cells are centred on the coordinates. On a pixel grid (``grid="pixel"``,
    ``lat``/``lon`` = rows y / columns x) row 0 is always drawn at the top, as in an image.
    """
    axis_labels(grid)
    if grid == "pixel":
        dy, dx = abs(_step(lat, "y")), abs(_step(lon, "x"))
        left, right = lon[0] - dx / 2, lon[-1] + dx / 2
        return [left, right, lat[-1] + dy / 2, lat[0] - dy / 2], "upper"
    dlat, dlon = _step(lat, "lat"), _step(lon, "lon")
    left, right = lon[0] - dlon / 2, lon[-1] + dlon / 2
    if dlat < 0:
        return [left, right, lat[-1] + dlat / 2, lat[0] - dlat / 2], "upper"
    return [left, right, lat[0] - dlat / 2, lat[-1] + dlat / 2], "lower"


def default_leads(t_out: int, n: int = 4) -> list[int]:
    """``n`` lead indices spread over 0 .. t_out - 1, last included."""
    return sorted({int(round(x)) for x in np.linspace(0, t_out - 1, min(n, t_out))})


def check_leads(leads: Sequence[int] | None, t_out: int) -> list[int]:
    """Lead indices to draw (``None``: :func:`default_leads`); negative counts from the end."""
    if leads is None:
        return default_leads(t_out)
    out = []
    for k in leads:
        if not -t_out <= int(k) < t_out:
            raise ValueError(f"lead index {k} out of range for {t_out} lead times")
        out.append(int(k) % t_out)
    if not out:
        raise ValueError("leads: expected at least one lead index")
    return out


def lead_text(lead: np.timedelta64 | None, index: int) -> str:
    """'+15 min', '+3 h', '+40 ms' (:func:`geostl.engine.evaluate.lead_label`), or '+k steps'
    without lead times."""
    from geostl.engine.evaluate import lead_label

    if lead is None:
        return f"+{index + 1} step" + ("s" if index else "")
    return lead_label(float(lead / np.timedelta64(1, "m")))


def time_text(t: np.datetime64 | None, grid: str = "latlon") -> str:
    """'2019-04-26 17:15 UTC' ('' for None); seconds or milliseconds are shown when the time
    has them ('2017-01-01 00:00:00.040'). On a pixel grid the time is shown as the reader
    stored it, without 'UTC': TaxiBJ's slots are Beijing local time and the video sets' axes
    are synthetic (:mod:`geostl.data.pixelgrid`)."""
    if t is None:
        return ""
    ns = np.datetime64(t, "ns")
    unit = next(u for u in ("m", "s", "ms", "ns") if ns == ns.astype(f"datetime64[{u}]"))
    text = np.datetime_as_string(ns.astype(f"datetime64[{unit}]")).replace("T", " ")
    return text if grid == "pixel" else text + " UTC"


def times_of(
    init_time: Any, lead_times: Any, t_out: int
) -> tuple[list[np.timedelta64 | None], list[np.datetime64 | None]]:
    """Per-lead ``(lead, valid time)``; None where not given."""
    if lead_times is None:
        leads: list[np.timedelta64 | None] = [None] * t_out
    else:
        arr = np.asarray(lead_times)
        arr = arr.astype("timedelta64[ns]") if arr.dtype.kind in "miu" else arr
        if arr.shape != (t_out,):
            raise ValueError(f"lead_times: expected {t_out} values, got shape {arr.shape}")
        leads = list(arr)
    if init_time is None or lead_times is None:
        return leads, [None] * t_out
    t0 = to_datetime(init_time)
    return leads, [t0 + lead for lead in leads]


def to_datetime(x: Any) -> np.datetime64:
    """One time as datetime64[ns] from datetime64, a string or int64 ns since 1970."""
    a = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x)
    if a.size != 1:
        raise ValueError(f"expected one time, got shape {a.shape}")
    a = a.astype("int64").astype("datetime64[ns]") if a.dtype.kind in "iu" else a
    return a.astype("datetime64[ns]").reshape(())[()]
