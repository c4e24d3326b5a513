"""WindowDataset on generated data: values, masks, gaps, future-forcing policies, laziness."""

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from geostl.data import DataConfig, WindowDataset, build_datasets
from geostl.data.windows import forcing_frames

LAT = np.array([20.0, 10.0, 0.0, -10.0, -20.0])  # descending, as in IONEX
LON = np.array([-180.0, -90.0, 0.0, 90.0])


def make_sources(n=120, step="15min", start="2020-03-01", poison_after=None, drop=()):
    times = pd.date_range(start, periods=n, freq=step)
    k = np.arange(n)[:, None, None]
    field = (10.0 + 0.5 * k + LAT[None, :, None] / 10 + LON[None, None, :] / 100).astype(np.float32)
    field[5, 1, 2] = np.nan
    keep = np.setdiff1d(np.arange(n), drop)
    maps = xr.Dataset(
        {"tec": (("time", "lat", "lon"), field[keep], {"units": "TECU", "long_name": "TEC"})},
        coords={"time": times[keep], "lat": LAT, "lon": LON},
    )
    ht = pd.date_range(pd.Timestamp(start) - pd.Timedelta("3h"), periods=n // 4 + 8, freq="1h")
    kp = np.arange(ht.size, dtype=np.float64) % 9
    dst = -np.arange(ht.size, dtype=np.float64)
    if poison_after is not None:
        kp[ht > poison_after] = 1e9
        dst[ht > poison_after] = 1e9
    omni = xr.Dataset(
        {"kp": ("time", kp, {"units": "1"}), "dst": ("time", dst, {"units": "nT"})},
        coords={"time": ht},
    )
    return {"maps": maps, "omni": omni}


CFG = {
    "schema": {
        "targets": {"source": "maps", "variables": ["tec"]},
        "forcings": [
            {"name": "kp", "source": "omni"},
            {"computed": "lst_cos"},
            {"name": "dst", "source": "omni", "align": "previous"},
            {"computed": "ut_hour"},
        ],
        "static": [{"kind": "lat"}],
    },
    "splits": {
        "train": {"start": "2020-03-01", "end": "2020-03-01T16:00"},
        "val": {"start": "2020-03-01T20:00", "end": "2020-03-02T06:00"},
    },
    "window": {"t_in": 4, "t_out": 3, "stride": 2},
    "normalisation": {"fixed": {"kp": {"offset": 0, "scale": 10}}},
}


def test_sample_values_masks_and_times_against_numpy():
    src = make_sources()
    ds = build_datasets(CFG, src)["train"]
    raw = src["maps"]["tec"].values.astype(np.float64)
    train = raw[:64]
    mean, std = np.nanmean(train), np.nanstd(train)
    assert len(ds) == (64 - 7) // 2 + 1 and ds.n_skipped_gaps == 0
    for i in (0, 1, len(ds) - 1):
        s = ds[i]
        a = 2 * i
        ref = (raw[a : a + 7] - mean) / std
        valid = np.isfinite(ref)
        got = torch.cat([s["inputs"], s["targets"]])[:, 0].numpy()
        mask = torch.cat([s["input_mask"], s["target_mask"]])[:, 0].numpy()
        np.testing.assert_array_equal(mask, valid)
        np.testing.assert_allclose(got, np.where(valid, ref, 0.0), rtol=1e-5, atol=1e-6)
        t = src["maps"]["time"].values[a : a + 7].astype("datetime64[ns]").astype(np.int64)
        np.testing.assert_array_equal(s["times_in"].numpy(), t[:4])
        np.testing.assert_array_equal(s["times_out"].numpy(), t[4:])
        assert s["index"].item() == i
    s0 = ds[0]
    assert forcing_frames(s0, "in").shape == (4, 4, 5, 4) and s0["static"].shape == (1, 5, 4)
    np.testing.assert_allclose(s0["static"][0, :, 0].numpy(), LAT / 90)
    assert ds.units == {"tec": "TECU"} and ds.time_step == np.timedelta64(15, "m")
    assert ds.forcing_names == ["kp", "lst_cos", "dst", "ut_hour"]


def test_nan_target_pixel_is_masked_with_zero_value():
    ds = build_datasets(CFG, make_sources())["train"]
    s = ds[2]  # frames 4..10; frame 5 has NaN at (1, 2)
    assert not s["input_mask"][1, 0, 1, 2] and s["inputs"][1, 0, 1, 2] == 0
    assert s["input_mask"].sum() == 4 * 20 - 1


def test_forcing_values_alignment_and_local_time():
    src = make_sources()
    ds = build_datasets(CFG, src)["train"]
    s = ds[3]  # frames 6..12 -> 01:30 .. 03:00
    times = pd.DatetimeIndex(ds.window_times(3))
    omni = src["omni"].to_dataframe()
    for j, t in enumerate(times[:4]):
        kp_ref = omni["kp"][t.floor("1h") - pd.Timedelta("1h")]  # last complete hour
        assert forcing_frames(s, "in")[j, 0, 0, 0].item() == pytest.approx(kp_ref / 10)
        lst = (t.hour + t.minute / 60 + LON / 15) % 24
        np.testing.assert_allclose(
            forcing_frames(s, "in")[j, 1, 2].numpy(), np.cos(2 * np.pi * lst / 24), atol=1e-6
        )
        assert forcing_frames(s, "in")[j, 3, 0, 0].item() == pytest.approx(
            (t.hour + t.minute / 60 - 12) / 12
        )


def _poison_window(policy, i):
    clean = build_datasets(CFG, make_sources())["train"]
    t_last_in = pd.Timestamp(clean.window_times(i)[3])
    src = make_sources(poison_after=t_last_in)
    ds = WindowDataset(clean.schema, src, clean.normaliser, 4, 3, 2, clean.split, policy)
    return clean[i], ds[i]


@pytest.mark.parametrize("i", [0, 5, 10])
def test_known_policy_never_reads_observed_future(i):
    clean, s = _poison_window("known", i)
    assert forcing_frames(s, "out").abs().max() < 100 and forcing_frames(s, "in").abs().max() < 100
    for c in (0, 2):  # observed: held at the last input frame
        assert torch.equal(
            forcing_frames(s, "out")[:, c], forcing_frames(s, "in")[-1:, c].expand(3, -1, -1)
        )
    for c in (1, 3):  # known: true future values
        assert torch.equal(forcing_frames(s, "out")[:, c], forcing_frames(clean, "out")[:, c])
    assert torch.equal(forcing_frames(s, "in"), forcing_frames(clean, "in"))


def test_oracle_policy_reads_future_and_says_so():
    clean, s = _poison_window("oracle", 5)
    assert forcing_frames(s, "out")[:, 2].abs().max() > 1e6  # the poison is visible to an oracle
    ds = WindowDataset(*_args("oracle"))
    assert ds.uses_future_observed and ds.future_forcings == "oracle"


def _args(policy):
    d = build_datasets(CFG, make_sources())["train"]
    return d.schema, make_sources(), d.normaliser, 4, 3, 2, d.split, policy


def test_none_policy_zeros_keep_channels():
    ds = WindowDataset(*_args("none"))
    s = ds[1]
    assert forcing_frames(s, "out").shape == (3, 4, 5, 4) and not forcing_frames(s, "out").any()
    assert not ds.uses_future_observed


def test_gap_windows_are_skipped_and_counted():
    src = make_sources(drop=(20,))
    ds = build_datasets(CFG, src)["train"]
    t = src["maps"]["time"].values
    brute_ok, brute_skip = [], 0
    for a in range(0, np.searchsorted(t, np.datetime64("2020-03-01T16:00")) - 6, 2):
        if np.all(np.diff(t[a : a + 7]) == np.timedelta64(15, "m")):
            brute_ok.append(a)
        else:
            brute_skip += 1
    assert ds.n_skipped_gaps == brute_skip > 0
    np.testing.assert_array_equal(ds.starts, brute_ok)
    for i in range(len(ds)):
        assert np.all(np.diff(ds.window_times(i)) == np.timedelta64(15, "m"))


def test_unsorted_time_axis_is_an_error():
    src = make_sources()
    src["maps"] = src["maps"].isel(time=np.r_[0:10, 11, 10, 12:120])
    with pytest.raises(ValueError, match=r"'maps'.*not sorted at index 11"):
        build_datasets(CFG, src)


def test_driver_missing_at_needed_time_is_an_error():
    src = make_sources()
    src["omni"] = src["omni"].isel(time=slice(5, None))  # starts too late for train
    with pytest.raises(ValueError, match=r"omni:kp.*2020-03-01T00:00"):
        build_datasets(CFG, src)


def test_gridded_forcing_nan_is_an_error_naming_variable_and_time():
    src = make_sources()
    wind = src["maps"]["tec"].copy().rename("u10")
    wind[5, 1, 2] = 1.0  # copied from tec's NaN pixel
    wind[90, 0, 0] = np.nan  # 22:30, inside val
    src["era"] = wind.to_dataset()
    cfg = {
        **CFG,
        "normalisation": {},
        "schema": {
            **CFG["schema"],
            "forcings": [{"name": "u10", "source": "era", "role": "known", "align": "previous"}],
        },
    }
    ds = build_datasets(cfg, src)["val"]
    ds[0]
    with pytest.raises(ValueError, match=r"'era:u10'.*2020-03-01T22:30"):
        ds[2]
    wind[9, 0, 0] = np.nan  # inside train: found while fitting the normaliser
    src["era"] = wind.to_dataset()
    with pytest.raises(ValueError, match=r"'era:u10'.*2020-03-01T02:15"):
        build_datasets(cfg, src)


def test_area_mask_from_static_variable_and_padding():
    src = make_sources()
    lsm = np.zeros((5, 4))
    lsm[0] = 1  # northern row is "land"
    src["lsm"] = xr.Dataset({"mask": (("lat", "lon"), lsm)}, coords={"lat": LAT, "lon": LON})
    cfg = {
        **CFG,
        "padding": {"multiple": 4},
        "schema": {
            **CFG["schema"],
            "static": [
                {"name": "ocean", "kind": "mask", "source": "lsm", "variable": "mask", "valid": [0]}
            ],
        },
    }
    ds = build_datasets(cfg, src)["train"]
    s = ds[0]
    assert s["inputs"].shape == (4, 1, 8, 4) and ds.area_mask.shape == (8, 4)
    assert ds.lat.shape == (8,) and ds.lat[5] == -30.0
    expected = np.zeros((8, 4), dtype=bool)
    expected[1:5] = True
    np.testing.assert_array_equal(ds.area_mask.numpy(), expected)
    assert (s["input_mask"][:, 0] <= ds.area_mask).all() and not s["inputs"][:, 0, 0].any()
    np.testing.assert_array_equal(s["static"][0].numpy(), expected.astype(np.float32))


class _Recording(BackendArray):
    def __init__(self, data, log):
        self.data, self.log = data, log
        self.shape, self.dtype = data.shape, data.dtype

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._raw
        )

    def _raw(self, key):
        self.log.append(key)
        return self.data[key]


def test_windows_read_only_their_frames():
    src = make_sources()
    log = []
    da = src["maps"]["tec"]
    lazy = xr.Variable(da.dims, indexing.LazilyIndexedArray(_Recording(da.values, log)), da.attrs)
    src["maps"] = xr.Dataset({"tec": lazy}, coords=src["maps"].coords)
    cfg = {**CFG, "normalisation": {"chunk": 8, **CFG["normalisation"]}}
    sets = build_datasets(cfg, src)
    assert log and max(k[0].stop - k[0].start for k in log) <= 8
    log.clear()
    sets["val"][2]
    assert len(log) == 1 and log[0][0].stop - log[0][0].start == 7


def test_zarr_store_matches_in_memory_and_collates(tmp_path):
    pytest.importorskip("zarr")
    src = make_sources()
    src["maps"].chunk({"time": 16}).to_zarr(tmp_path / "maps.zarr", consolidated=False)
    mem = build_datasets(CFG, src)["val"]
    src["maps"] = xr.open_zarr(tmp_path / "maps.zarr", consolidated=False)
    lazy = build_datasets(CFG, src)["val"]
    for i in range(len(lazy)):
        a, b = mem[i], lazy[i]
        for key in a:
            assert torch.equal(a[key], b[key]), key
    batch = next(iter(torch.utils.data.DataLoader(lazy, batch_size=2)))
    assert batch["inputs"].shape == (2, 4, 1, 5, 4) and batch["index"].tolist() == [0, 1]


def test_build_with_given_normaliser_and_config_object():
    cfg = DataConfig.from_dict(CFG)
    first = build_datasets(cfg, make_sources())
    again = build_datasets(cfg, make_sources(), normaliser=first["train"].normaliser)
    assert torch.equal(first["val"][0]["inputs"], again["val"][0]["inputs"])
