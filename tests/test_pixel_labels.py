"""Lead and time labels of pixel-grid runs: video frames 40 ms apart get '+40 ms' (not
'+0.000666667 min'), and pixel-grid figures do not call their times UTC (TaxiBJ is Beijing
local time, the video axes are synthetic); geographic labels are unchanged."""

from __future__ import annotations

import numpy as np

from geostl.engine import lead_labels
from geostl.outputs import forecast_maps_figure

FRAME_MINUTES = 40 / 60_000  # KTH: 25 frames per second


def test_sub_minute_leads_are_labelled_in_ms_or_s() -> None:
    assert lead_labels(FRAME_MINUTES, 3) == ["+40 ms", "+80 ms", "+120 ms"]
    assert lead_labels(FRAME_MINUTES, 25)[-1] == "+1 s"
    assert lead_labels(0.5, 3) == ["+30 s", "+1 min", "+1.5 min"]
    # geographic steps keep their labels
    assert lead_labels(15, 4) == ["+15 min", "+30 min", "+45 min", "+1 h"]


def _titles(grid: str, init: np.datetime64, step: np.timedelta64) -> tuple[list[str], str]:
    t_out, h, w = 3, 4, 5
    truth = np.arange(t_out * h * w, dtype=np.float64).reshape(t_out, h, w)
    rows, cols = np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64)
    if grid == "latlon":
        rows, cols = np.array([60.0, 20.0, -20.0, -60.0]), np.arange(w) * 10.0
    fig = forecast_maps_figure(
        truth,
        truth + 1,
        rows,
        cols,
        leads=[0, 1, 2],
        lead_times=np.arange(1, t_out + 1) * step,
        init_time=init,
        channel="c",
        units="count",
        grid=grid,
    )
    panels = [ax for ax in fig.axes if ax.images]
    return [ax.get_title() for ax in panels[:3]], fig._suptitle.get_text()


def test_pixel_grid_figure_times_are_not_called_utc() -> None:
    titles, head = _titles("pixel", np.datetime64("2016-03-15T21:30"), np.timedelta64(30, "m"))
    assert titles[0] == "truth +30 min\n2016-03-15 22:00"
    assert "UTC" not in head and "init 2016-03-15 21:30" in head


def test_video_frames_get_distinct_valid_times() -> None:
    titles, _ = _titles("pixel", np.datetime64("2017-01-01T00:00"), np.timedelta64(40, "ms"))
    assert titles == [
        "truth +40 ms\n2017-01-01 00:00:00.040",
        "truth +80 ms\n2017-01-01 00:00:00.080",
        "truth +120 ms\n2017-01-01 00:00:00.120",
    ]


def test_geographic_figure_times_stay_utc() -> None:
    titles, head = _titles("latlon", np.datetime64("2019-04-26T21:00"), np.timedelta64(15, "m"))
    assert titles[0] == "truth +15 min\n2019-04-26 21:15 UTC"
    assert "init 2019-04-26 21:00 UTC" in head
