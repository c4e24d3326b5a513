"""Map figures, GIF and metric-by-lead plots: files decoded back, drawn arrays checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from geostl.data import pad_to_multiple
from geostl.metrics import MetricTable, compare_tables
from geostl.outputs import (
    forecast_maps_figure,
    metric_by_lead_figure,
    plot_forecast_maps,
    plot_metric_by_lead,
    write_forecast_gif,
)
from geostl.outputs._maps import image_extent

T, H, W = 6, 5, 8
LAT = np.array([60.0, 30.0, 0.0, -30.0, -60.0])  # descending, as in IONEX
LON = np.arange(W) * 45.0 - 180.0
STEP = np.timedelta64(15, "m")
INIT = np.datetime64("2019-04-26T21:00", "ns")


def fields() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    truth = 10 + 5 * rng.random((T, H, W))
    pred = truth + rng.normal(0, 1, (T, H, W))
    valid = np.ones((T, H, W), dtype=bool)
    valid[:, 0, :3] = False  # e.g. land or missing
    valid[2, 4, 7] = False
    return truth, pred, valid


def test_image_extent_handles_descending_and_ascending_latitude() -> None:
    ext, origin = image_extent(LAT, LON)
    assert origin == "upper" and ext == [-202.5, 157.5, -75.0, 75.0]
    ext, origin = image_extent(LAT[::-1], LON)
    assert origin == "lower" and ext == [-202.5, 157.5, -75.0, 75.0]
    with pytest.raises(ValueError, match="lat: expected evenly spaced"):
        image_extent(np.array([0.0, 1.0, 3.0]), LON)


def test_maps_figure_draws_inputs_with_nan_where_masked(tmp_path: Path) -> None:
    truth, pred, valid = fields()
    leads = [0, 2, -1]
    fig = forecast_maps_figure(
        torch.from_numpy(truth),
        pred,
        LAT,
        LON,
        valid=valid,
        leads=leads,
        lead_times=np.arange(1, T + 1) * STEP,
        init_time=INIT.astype("int64"),
        channel="tec",
        units="TECU",
    )
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 9  # 3 rows x 3 leads; the two colour bars have no images
    for j, k in enumerate([0, 2, T - 1]):
        t_exp = np.where(valid[k], truth[k], np.nan)
        p_exp = np.where(valid[k], pred[k], np.nan)
        for r, expected in enumerate((t_exp, p_exp, p_exp - t_exp)):
            drawn = np.ma.filled(np.ma.asarray(panels[r * 3 + j].images[0].get_array()), np.nan)
            np.testing.assert_array_equal(drawn, expected)
    # shared physical colour range for truth/forecast, symmetric range for the error
    shown = [0, 2, T - 1]
    both = np.concatenate(
        [np.where(valid, truth, np.nan)[shown], np.where(valid, pred, np.nan)[shown]]
    )
    assert panels[0].images[0].get_clim() == pytest.approx((np.nanmin(both), np.nanmax(both)))
    assert panels[4].images[0].get_clim() == panels[0].images[0].get_clim()
    lo, hi = panels[6].images[0].get_clim()
    assert lo == -hi and hi == pytest.approx(np.nanmax(np.abs((pred - truth)[shown][valid[shown]])))
    assert panels[0].images[0].origin == "upper"
    assert "+15 min" in panels[0].get_title() and "2019-04-26 21:15 UTC" in panels[0].get_title()
    assert "+1.5 h" in panels[2].get_title() and "22:30" in panels[2].get_title()
    assert panels[0].get_ylabel() == "latitude (deg N)"
    assert any("TECU" in ax.get_ylabel() for ax in fig.axes if not ax.images)

    path = plot_forecast_maps(tmp_path / "maps.png", truth, pred, LAT, LON, valid=valid)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] > 300 and im.size[1] > 300


def test_padding_is_removed_before_drawing() -> None:
    truth, pred, valid = fields()
    adjust = pad_to_multiple(H, W, 4)  # 5x8 -> 8x8
    padded = [adjust.apply(a) for a in (truth, pred)]
    pvalid = adjust.apply(valid, fill=False)
    lat_pad = adjust.coords(LAT, "rows")
    fig = forecast_maps_figure(*padded, lat_pad, LON, valid=pvalid, leads=[1], grid_adjust=adjust)
    drawn = np.ma.filled(np.ma.asarray(fig.axes[0].images[0].get_array()), np.nan)
    np.testing.assert_array_equal(drawn, np.where(valid[1], truth[1], np.nan))


def test_gif_has_one_frame_per_lead(tmp_path: Path) -> None:
    truth, pred, valid = fields()
    path = write_forecast_gif(
        tmp_path / "seq.gif",
        truth,
        pred,
        LAT,
        LON,
        valid=valid,
        lead_times=np.arange(1, T + 1) * STEP,
        init_time=INIT,
        channel="tec",
        units="TECU",
        dpi=50,
    )
    assert path.stat().st_size > 0
    with Image.open(path) as im:
        assert im.format == "GIF" and im.n_frames == T
    assert not list(tmp_path.glob(".*tmp*"))


def _table(rmse: list[float]) -> MetricTable:
    rows = [
        {
            "metric": "rmse",
            "channel": "tec",
            "lead": f"+{15 * (i + 1)} min",
            "weighting": "lat",
            "value": v,
        }
        for i, v in enumerate(rmse)
    ]
    rows.append(
        {
            "metric": "rmse",
            "channel": "tec",
            "lead": "all",
            "weighting": "lat",
            "value": float(np.mean(rmse)),
        }
    )
    return MetricTable(rows, units={"tec": "TECU"}, metric_units={"rmse": "{u}"})


def test_rmse_plot_lines_equal_the_tables(tmp_path: Path) -> None:
    tables = {
        "convlstm": _table([1.0, 1.4, 1.7]),
        "persistence": _table([0.8, 2.5, 3.7]),
        "climatology": _table([2.1, 2.1, 2.2]),
    }
    fig = metric_by_lead_figure(tables, "tec")
    lines = fig.axes[0].get_lines()
    wide = compare_tables(tables, "rmse", "tec")
    assert [ln.get_label() for ln in lines] == list(tables)
    for ln, name in zip(lines, tables, strict=True):
        np.testing.assert_array_equal(ln.get_ydata(), wide.column(name)[:3])  # "all" left out
        np.testing.assert_array_equal(ln.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines[1].get_ydata(), [0.8, 2.5, 3.7])
    assert fig.axes[0].get_ylabel() == "RMSE (TECU)"
    path = plot_metric_by_lead(tmp_path / "rmse.png", tables, "tec")
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == (900, 504)
    with pytest.raises(KeyError, match="metric 'mae' not in table"):
        metric_by_lead_figure(tables, "tec", metric="mae")
