"""The future-forcing policy seen from the model: on the built-in TEC sample with OMNI2
drivers, poisoning every observed-driver value after a window's issue time never changes what a
``known`` run feeds the model (fusions ``concat`` and ``mixer``), and does change an
``oracle`` run's input."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
import torch

from geostl.data import WindowDataset, build_datasets
from geostl.data.windows import forcing_frames
from geostl.datasets import sample
from geostl.models import FUSIONS, Forecaster, meta_from_dataset

OBSERVED = ("kp", "dst", "f107")
KNOWN = ("lst_sin", "lst_cos", "doy_sin", "doy_cos")
POISON = 1.0e6
T_IN, T_OUT = 8, 12


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The models here are tiny: one intra-op thread avoids thread start-up and contention
    costs that dominate their run time on a shared machine (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


DATA = {
    "schema": {
        "targets": {"source": "maps", "variables": ["tec"]},
        "forcings": [
            *(
                {"name": n, "source": "omni", "role": "observed", "align": "previous_complete"}
                for n in OBSERVED
            ),
            *({"computed": n} for n in KNOWN),
        ],
        "static": [{"kind": "lat"}],  # 1 target + 7 forcings + 1 static = 9 = 3² channels
    },
    "splits": {
        "train": {"start": "2019-04-25T00:00", "end": "2019-04-26T00:00"},
        "test": {"start": "2019-04-26T12:00", "end": "2019-04-27T00:15"},
    },
    "window": {"t_in": T_IN, "t_out": T_OUT, "stride": 1},
    "normalisation": {
        "method": "fixed",
        "fixed": {
            "tec": {"offset": 0.0, "scale": 200.0},
            "kp": {"offset": 0.0, "scale": 10.0},
            "dst": {"offset": -500.0, "scale": 600.0},
            "f107": {"offset": 0.0, "scale": 400.0},
        },
    },
    "padding": {"multiple": 4},
}


@functools.cache
def _sources() -> tuple:
    return sample("tec"), sample("tec_drivers")


@functools.cache
def _clean(policy: str) -> WindowDataset:
    """The test split under ``policy`` (the normaliser and aligned drivers built once)."""
    maps, omni = _sources()
    if policy == "known":
        return build_datasets({**DATA, "future_forcings": policy}, {"maps": maps, "omni": omni})[
            "test"
        ]
    known = _clean("known")
    return WindowDataset(
        known.schema,
        {"maps": maps, "omni": omni},
        known.normaliser,
        T_IN,
        T_OUT,
        1,
        known.split,
        policy,
        grid_adjust=known.grid_adjust,
        axis=known.axis,
        forcings=known.forcings,
    )


def _poisoned(clean: WindowDataset, policy: str, issue: np.datetime64) -> WindowDataset:
    """The same windows, the observed drivers set to POISON at every time after ``issue``."""
    maps, omni = _sources()
    omni = omni.copy(deep=True)
    after = omni["time"].values > issue
    assert after.any() and (~after).any()
    for name in OBSERVED:
        omni[name].values[after] = POISON
    return WindowDataset(
        clean.schema,
        {"maps": maps, "omni": omni},
        clean.normaliser,
        T_IN,
        T_OUT,
        1,
        clean.split,
        policy,
        grid_adjust=clean.grid_adjust,
    )


def _batch(ds: WindowDataset, i: int) -> dict[str, torch.Tensor]:
    return {k: v[None] for k, v in ds[i].items()}


def _issue_time(ds: WindowDataset, i: int) -> np.datetime64:
    return ds.window_times(i)[T_IN - 1]


def _mixer_model(ds: WindowDataset) -> Forecaster:
    torch.manual_seed(0)
    cfg = {
        "backbone": {"name": "convlstm", "num_hidden": [4], "filter_size": 3, "patch_size": 4},
        "fusion": "mixer",
    }
    return Forecaster(cfg, meta_from_dataset(ds)).eval()


def _fed_frames(model: Forecaster, batch) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Every frame the ConvLSTM's mixer produced (what its first layer read) and the forecast."""
    seen: list[torch.Tensor] = []
    hook = model.backbone.frame_transform.register_forward_hook(lambda m, a, out: seen.append(out))
    with torch.no_grad():
        pred = model(batch)["pred"]
    hook.remove()
    return seen, pred


@pytest.mark.parametrize("fusion", ["concat", "mixer"])
def test_known_policy_input_is_blind_to_poisoned_observed_future(fusion):
    clean = _clean("known")
    net = FUSIONS.build(fusion, target_channels=1, forcing_channels=7, static_channels=1)
    for i in (0, len(clean) - 1):
        issue = _issue_time(clean, i)
        dirty = _poisoned(clean, "known", issue)
        x0, f0 = net(_batch(clean, i), T_OUT)
        x1, f1 = net(_batch(dirty, i), T_OUT)
        assert torch.equal(x0, x1) and torch.equal(f0, f1)
        assert f1.abs().max() < 100  # no trace of the poison


def test_known_policy_mixer_model_feeds_identical_frames():
    clean = _clean("known")
    i = len(clean) // 2
    dirty = _poisoned(clean, "known", _issue_time(clean, i))
    model = _mixer_model(clean)
    seen0, pred0 = _fed_frames(model, _batch(clean, i))
    seen1, pred1 = _fed_frames(model, _batch(dirty, i))
    assert len(seen0) == T_IN + T_OUT - 1
    assert all(torch.equal(a, b) for a, b in zip(seen0, seen1, strict=True))
    assert torch.equal(pred0, pred1)


@pytest.mark.parametrize("fusion", ["concat", "mixer"])
def test_oracle_policy_input_sees_the_poison(fusion):
    clean = _clean("oracle")
    assert clean.uses_future_observed
    i = len(clean) // 2
    dirty = _poisoned(clean, "oracle", _issue_time(clean, i))
    net = FUSIONS.build(fusion, target_channels=1, forcing_channels=7, static_channels=1)
    x0, f0 = net(_batch(clean, i), T_OUT)
    x1, f1 = net(_batch(dirty, i), T_OUT)
    assert torch.equal(x0, x1)  # inputs end at the issue time
    assert f1[:, :, 1:4].abs().max() > POISON / 1000  # observed drivers, after scaling
    assert torch.equal(f0[:, :, 4:], f1[:, :, 4:])  # known and static untouched
    model = _mixer_model(clean)
    _, pred0 = _fed_frames(model, _batch(clean, i))
    _, pred1 = _fed_frames(model, _batch(dirty, i))
    assert not torch.equal(pred0, pred1)


def test_known_policy_gives_true_future_calendar_and_holds_observed():
    known, oracle = _clean("known"), _clean("oracle")
    i = 3
    s, o = known[i], oracle[i]
    width = known.grid_adjust.width  # the unpadded columns (padding holds zeros)
    lon = torch.as_tensor(known.lon[:width], dtype=torch.float64)
    times = pd.DatetimeIndex(known.window_times(i)[T_IN:])
    hours = torch.tensor(times.hour + times.minute / 60.0, dtype=torch.float64)
    lst = torch.remainder(hours[:, None] + lon[None, :] / 15.0, 24.0)
    for c, fn in ((3, torch.sin), (4, torch.cos)):  # lst_sin, lst_cos: true future values
        want = fn(2 * torch.pi * lst / 24.0)
        torch.testing.assert_close(
            forcing_frames(s, "out")[:, c, 0, :width].double(), want, atol=1e-6, rtol=0
        )
    assert torch.equal(forcing_frames(s, "out")[:, 3:], forcing_frames(o, "out")[:, 3:])
    for c in range(3):  # observed: held at the last input frame's value
        held = forcing_frames(s, "in")[-1:, c].expand(T_OUT, -1, -1)
        assert torch.equal(forcing_frames(s, "out")[:, c], held)
