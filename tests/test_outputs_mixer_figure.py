"""The mixed-frame figure on a real TEC map with the seed's 4-channel auxiliary planes."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from geostl.datasets import sample
from geostl.models.channel_mixer import mix_frame
from geostl.models.patching import patch
from geostl.outputs.mixer_figure import mixed_frame_figure, plot_mixed_frame

NAMES = ["TEC / 200 TECU", "lon index col/72", "lat index row/72", "year / 2500"]


@functools.cache
def _frame() -> np.ndarray:
    """(4, 68, 72): the first UPC map cropped to 68 × 72, and the seed's scaled aux planes."""
    tec = sample("tec")["tec"].values[0, :68, :72] / 200.0
    rows, cols = np.meshgrid(np.arange(68), np.arange(72), indexing="ij")
    year = np.full((68, 72), 2019 / 2500)
    return np.stack([tec, cols / 72, rows / 72, year]).astype(np.float32)


@pytest.mark.parametrize("layout,p", [("raster", 1), ("patched", 4)])
def test_plot_mixed_frame_writes_a_png_of_the_mixed_planes(tmp_path, layout, p):
    frame = _frame()
    path = plot_mixed_frame(
        tmp_path / f"mixed_{layout}.png", frame, NAMES, layout=layout, patch_size=p
    )
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    fig = mixed_frame_figure(frame, NAMES, layout=layout, patch_size=p)
    fed = patch(torch.from_numpy(frame)[None, None], p)[:, 0]
    mixed = mix_frame(fed, layout, p)[0].numpy()
    drawn = np.asarray(fig.axes[4 + 1].images[0].get_array())  # row 2: bypass, then plane 0
    np.testing.assert_array_equal(drawn, mixed[0])
    bypass = np.asarray(fig.axes[4].images[0].get_array())
    np.testing.assert_array_equal(bypass, fed[0, 0].numpy())


def test_figure_refuses_a_non_square_channel_count():
    with pytest.raises(ValueError, match="got 3"):
        mixed_frame_figure(_frame()[:3], NAMES[:3])
