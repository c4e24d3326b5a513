"""TaxiBJ (OpenSTL ``--dataname taxibj``) as a run-config ``data`` section.

:func:`taxibj_data_section` turns the release's four files (read by
:func:`geostl.io.open_taxibj` through the ``taxibj`` source format) into a ``data`` section for
``geostl train``:

- targets ``inflow`` and ``outflow`` (2 channels on the 32 x 32 pixel grid), 4 -> 4 half-hour
  steps (OpenSTL's in_shape (4, 2, 32, 32)), stride 1;
- test = the last four weeks of the record (the convention of ST-ResNet's code,
  ``days_test = 7 * 4``, which OpenSTL's ``dataset.npz`` inherits): 28 days ending with the
  release's last day, 2016-04-10 (BJ16 ends there);
- validation = the four weeks before the test period, carved from the training period and
  never the test set (OpenSTL validates on its test set); every split ends one window
  (8 slots = 4 h) before the next starts;
- train = everything before, from 2013-07-01 (BJ13's first day);
- normalisation ``minmax``: each channel's train minimum -> 0 and maximum -> 1, i.e. OpenSTL's
  model-space scaling (DeepST's min-max to [-1, 1], then ``(x + 1) / 2``; DeepST takes one
  min/max over both channels, here each channel has its own). Metrics are
  reported in counts per slot after de-normalising; OpenSTL's TaxiBJ MSE/MAE are per-frame sums
  over 2 x 32 x 32 pixels in the [0, 1] units: ``MSE_openstl = 2048 x MSE / (max - min)^2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

__all__ = ["TAXIBJ_FIRST_DAY", "TAXIBJ_LAST_DAY", "taxibj_data_section"]

TAXIBJ_FIRST_DAY = "2013-07-01"
TAXIBJ_LAST_DAY = "2016-04-10"
_STEP = pd.Timedelta(minutes=30)


def taxibj_data_section(
    paths: str | Sequence[str],
    source: str = "taxibj",
    test_days: int = 28,
    val_days: int = 28,
    last_day: str = TAXIBJ_LAST_DAY,
    first_day: str = TAXIBJ_FIRST_DAY,
    t_in: int = 4,
    t_out: int = 4,
) -> dict[str, Any]:
    """A run-config ``data`` section for TaxiBJ (see the module docstring).

    Args:
        paths: the release files (a path, glob pattern or list), e.g.
            ``"data/TaxiBJ/BJ1*_M32x32_T30_InOut.h5"``.
        source: the name of the source in ``data.sources``.
        test_days, val_days: lengths of the test and validation periods in days.
        last_day: the last day of the record (inclusive); the test period ends with it.
        first_day: the first day of the training period.
        t_in, t_out: window length in 30-min slots.

    Returns:
        ``{"sources": {source: {"paths": paths, "format": "taxibj"}}, "schema": {"targets":
        {"source": source, "variables": ["inflow", "outflow"]}}, "splits": {...}, "window":
        {...}, "normalisation": {"method": "minmax"}}``.
    """
    for name, value in (("test_days", test_days), ("val_days", val_days)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    end = pd.Timestamp(last_day) + pd.Timedelta(days=1)
    gap = (t_in + t_out) * _STEP
    test_start = end - pd.Timedelta(days=test_days)
    val_start = test_start - pd.Timedelta(days=val_days)
    train_start = pd.Timestamp(first_day)
    if not train_start < val_start - gap:
        raise ValueError(
            f"first_day {first_day} leaves no training period before the validation period "
            f"starting {val_start:%Y-%m-%d}"
        )

    def fmt(t: pd.Timestamp) -> str:
        return t.strftime("%Y-%m-%dT%H:%M")

    raw = [paths] if isinstance(paths, str) else [str(p) for p in paths]
    return {
        "sources": {source: {"paths": raw[0] if len(raw) == 1 else raw, "format": "taxibj"}},
        "schema": {"targets": {"source": source, "variables": ["inflow", "outflow"]}},
        "splits": {
            "train": {"start": fmt(train_start), "end": fmt(val_start - gap)},
            "val": {"start": fmt(val_start), "end": fmt(test_start - gap)},
            "test": {"start": fmt(test_start), "end": fmt(end)},
        },
        "window": {"t_in": int(t_in), "t_out": int(t_out), "stride": 1},
        "normalisation": {"method": "minmax"},
    }
