"""Scalar drivers travel as series and become planes on the model's device: the frames put
together there equal, bit for bit, the planes the loader builds for every channel (real TEC
sample with OMNI drivers, calendar and local-time features, a padded grid)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from geostl.commands.demo import DEMO_RUN_CONFIG
from geostl.data import build_datasets
from geostl.data.windows import forcing_frames
from geostl.datasets import sample
from geostl.models.fusion import ConcatFusion


@pytest.fixture(scope="module")
def demo_val():
    """The demo's data section (71 x 73 maps padded to 72 x 76), 4 output frames."""
    cfg = {k: v for k, v in DEMO_RUN_CONFIG["data"].items() if k != "sources"}
    cfg["window"] = {**cfg["window"], "t_out": 4}
    sources = {"maps": sample("tec"), "omni": sample("tec_drivers")}
    return build_datasets(cfg, sources)["val"]


def _planes_as_the_loader_builds_them(ds, i):
    """Every channel read as a plane (the layout without series), through the grid padding."""
    f_in, f_out = ds._forcing_frames(int(ds.starts[i]))
    return (torch.from_numpy(ds.grid_adjust.apply(f_in)),
            torch.from_numpy(ds.grid_adjust.apply(f_out)))  # fmt: skip


def test_the_demo_sample_carries_its_drivers_as_series(demo_val):
    ds = demo_val
    assert ds.series_forcings == ["kp", "dst", "f107", "doy_sin", "doy_cos"]
    s = ds[0]
    assert "forcings_in" not in s
    assert s["forcing_series_in"].shape == (ds.t_in, 5)
    assert s["forcing_planes_in"].shape == (ds.t_in, 2, *ds.area_mask.shape)  # lst_sin/cos
    assert s["forcing_series_index"].tolist() == [0, 1, 2, 5, 6]
    h, w = ds.axis.rows.size, ds.axis.cols.size  # the source grid, before padding
    assert tuple(ds.area_mask.shape) != (h, w)  # the demo pads 71 x 73 to 72 x 76
    assert int(s["forcing_support"].sum()) == h * w


@pytest.mark.parametrize("i", [0, 7])
def test_frames_equal_the_loader_planes_bit_for_bit(demo_val, i):
    ref_in, ref_out = _planes_as_the_loader_builds_them(demo_val, i)
    s = demo_val[i]
    assert torch.equal(forcing_frames(s, "in"), ref_in)
    assert torch.equal(forcing_frames(s, "out"), ref_out)
    # the padding holds zeros, the grid the driver value at every pixel
    kp = forcing_frames(s, "in")[:, 0]
    inside = s["forcing_support"]
    assert torch.equal(kp[:, ~inside], torch.zeros_like(kp[:, ~inside]))
    assert torch.equal(kp[:, inside], s["forcing_series_in"][:, :1].expand(-1, int(inside.sum())))


def test_a_batch_fuses_as_the_planes_did(demo_val):
    batch = next(iter(DataLoader(demo_val, batch_size=3)))
    old = dict(batch)
    for which in ("in", "out"):
        old[f"forcings_{which}"] = torch.stack(
            [_planes_as_the_loader_builds_them(demo_val, i)[which == "out"] for i in range(3)]
        )
    fusion = ConcatFusion(1, len(demo_val.forcing_names), len(demo_val.static_names))
    got, want = fusion(batch, 4), fusion(old, 4)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_a_batch_mixing_layouts_is_refused(demo_val):
    batch = next(iter(DataLoader(demo_val, batch_size=2)))
    batch["forcing_series_index"] = torch.tensor([[0, 1, 2, 5, 6], [0, 1, 2, 3, 4]])
    with pytest.raises(ValueError, match="forcing_series_index differs"):
        forcing_frames(batch, "in")


def test_the_loader_moves_fewer_bytes(demo_val):
    s = demo_val[0]
    compact = sum(s[k].numel() for k in s if k.startswith("forcing_series_"))
    compact += sum(s[k].numel() for k in s if k.startswith("forcing_planes_"))
    full = sum(forcing_frames(s, w).numel() for w in ("in", "out"))
    assert compact < 0.3 * full  # 5 of the 7 channels are series: 2/7 of the planes remain
    assert np.isclose(compact / full, (2 * 72 * 76 + 5) / (7 * 72 * 76), rtol=1e-3)
