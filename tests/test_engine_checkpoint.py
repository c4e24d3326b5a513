"""Checkpoints: plain data loadable with weights_only, atomic writes, RNG round trip, rebuild."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
import torch

from engine_toy import tec_datasets, tiny_model
from geostl.data import Normaliser
from geostl.engine import (
    load_checkpoint,
    normaliser_from_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from geostl.engine.checkpoint import data_description, model_description


class Arbitrary:
    """Any class: unpickling it would run code of the loader's choosing."""

    def __reduce__(self):
        return (print, ("this ran on load",))


def test_checkpoint_is_plain_and_self_describing(tmp_path):
    ds, _, data_cfg = tec_datasets(t_out=4)
    model = tiny_model(ds["train"])
    path = save_checkpoint(
        tmp_path / "c.pt",
        {
            "model": model_description(model),
            "data": data_description(ds["train"], data_cfg),
            "rng": rng_state(),
            "np": np.float32(1.5),
        },
    )
    raw = torch.load(path, weights_only=True)  # plain data only: no class is unpickled
    assert raw["format"] == "geostl.checkpoint" and raw["geostl_version"]
    assert raw["np"] == 1.5 and type(raw["np"]) is float
    assert raw["model"]["constructor_args"]["meta"]["t_out"] == 4
    assert raw["data"]["config"] == data_cfg
    assert raw["data"]["target_names"] == ["tec"] and raw["data"]["time_step_ns"] == 15 * 60e9
    norm = normaliser_from_checkpoint(load_checkpoint(path))
    assert isinstance(norm, Normaliser) and norm.state_dict() == ds["train"].normaliser.state_dict()
    for k, v in model.state_dict().items():
        assert torch.equal(raw["model"]["state_dict"][k], v)


def test_arbitrary_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"checkpoint.extra.obj: .*Arbitrary is not plain data"):
        save_checkpoint(tmp_path / "x.pt", {"extra": {"obj": Arbitrary()}})
    assert not list(tmp_path.iterdir())  # nothing written, no temporary left behind
    # a file holding an arbitrary object (written by someone else) is refused on load
    torch.save({"format": "geostl.checkpoint", "payload": Arbitrary()}, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / "evil.pt", weights_only=True)
    with pytest.raises(ValueError, match="weights_only=True"):
        load_checkpoint(tmp_path / "evil.pt")


def test_atomic_replace_keeps_the_old_file_on_failure(tmp_path):
    path = save_checkpoint(tmp_path / "last.pt", {"value": 1})
    with pytest.raises(TypeError):
        save_checkpoint(path, {"value": 2, "bad": {1, 2}})
    assert load_checkpoint(path)["value"] == 1
    save_checkpoint(path, {"value": 3})
    assert load_checkpoint(path)["value"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a geostl checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_rng_states_round_trip_through_a_file(tmp_path):
    torch.manual_seed(3)
    np.random.seed(4)  # noqa: NPY002
    random.seed(5)
    random.gauss(0, 1)  # leaves a cached gaussian in Python's state
    save_checkpoint(tmp_path / "r.pt", {"rng": rng_state()})
    first = (torch.rand(3), np.random.rand(3), random.random(), random.gauss(0, 1))  # noqa: NPY002
    set_rng_state(load_checkpoint(tmp_path / "r.pt")["rng"])
    again = (torch.rand(3), np.random.rand(3), random.random(), random.gauss(0, 1))  # noqa: NPY002
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert first[2:] == again[2:]


def test_real_forecaster_rebuilds_from_its_checkpoint(tmp_path):
    models = pytest.importorskip("geostl.models")
    from engine_toy import meta_of
    from geostl.engine import build_model_from_checkpoint

    ds, _, _ = tec_datasets(t_out=4)
    meta = meta_of(ds["train"])
    model_cfg = {"backbone": {"name": "convlstm", "num_hidden": [8], "filter_size": 3,
                              "patch_size": 1}, "fusion": "concat"}  # fmt: skip
    try:
        model = models.build_forecaster(model_cfg, meta)
    except (TypeError, KeyError, ValueError) as err:
        pytest.skip(f"geostl.models contract differs from the one assumed here: {err}")
    save_checkpoint(tmp_path / "m.pt", {"model": model_description(model)})
    rebuilt = build_model_from_checkpoint(tmp_path / "m.pt")
    batch = {k: v.unsqueeze(0) for k, v in ds["test"][0].items()}
    model.eval()
    rebuilt.eval()
    with torch.no_grad():
        assert torch.equal(model(batch)["pred"], rebuilt(batch)["pred"])


@pytest.mark.parametrize("name", ["convlstm", "mim", "predrnnpp", "mau"])
def test_checkpoint_from_before_inert_params_were_opt_in_still_loads(tmp_path, name):
    """Checkpoints written when ``openstl_inert_params`` defaulted to True have no such key in
    their model config but hold the inert weights: they load with the flag set, and the
    rebuilt model forecasts as the saved one; saved with the key, the flag round-trips."""
    from geostl.engine import build_model_from_checkpoint
    from geostl.models import build_forecaster

    meta = {"t_in": 3, "t_out": 2, "target_channels": 1, "forcing_channels": 0,
            "static_channels": 0, "height": 8, "width": 8}  # fmt: skip
    small = {"num_hidden": [4, 4], "filter_size": 3, "patch_size": 2}
    if name == "mau":
        small.update(sr_size=2, tau=2)
    old_cfg = {"backbone": {"name": name, **small}, "fusion": "concat"}
    torch.manual_seed(0)
    old = build_forecaster(
        {**old_cfg, "backbone": {**old_cfg["backbone"], "openstl_inert_params": True}}, meta
    )
    description = model_description(old)
    description["constructor_args"]["model_cfg"] = old_cfg  # as an old checkpoint has it
    inert = set(old.state_dict()) - set(build_forecaster(old_cfg, meta).state_dict())
    assert inert and all(k in description["state_dict"] for k in inert)
    save_checkpoint(tmp_path / "old.pt", {"model": description})
    rebuilt = build_model_from_checkpoint(tmp_path / "old.pt")
    assert rebuilt.constructor_args()[0]["backbone"]["openstl_inert_params"] is True
    x = {"inputs": torch.randn(2, 3, 1, 8, 8)}
    old.eval()
    rebuilt.eval()
    with torch.no_grad():
        assert torch.equal(old(x)["pred"], rebuilt(x)["pred"])
    # a checkpoint without the inert weights (new default) loads as the lean model
    lean = build_forecaster(old_cfg, meta)
    save_checkpoint(tmp_path / "new.pt", {"model": model_description(lean)})
    assert set(build_model_from_checkpoint(tmp_path / "new.pt").state_dict()) == set(
        lean.state_dict()
    )
    with pytest.raises(RuntimeError, match="Unexpected key"):
        bad = model_description(old)
        bad["state_dict"]["backbone.not_a_weight"] = torch.zeros(1)
        save_checkpoint(tmp_path / "bad.pt", {"model": bad})
        build_model_from_checkpoint(tmp_path / "bad.pt")
