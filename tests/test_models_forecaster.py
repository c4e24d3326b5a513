"""Forecaster: config → fusion + backbone, the batch contract, rebuild, errors, real TEC data."""

from __future__ import annotations

import pytest
import torch

from geostl.models import Forecaster, build_forecaster, count_parameters, meta_from_dataset

META = {
    "t_in": 3,
    "t_out": 4,
    "target_channels": 1,
    "forcing_channels": 2,
    "static_channels": 1,
    "height": 8,
    "width": 8,
}
CONVLSTM = {
    "backbone": {"name": "convlstm", "num_hidden": [6], "filter_size": 3, "patch_size": 2},
    "fusion": "concat",
}


def _batch(meta=META, b=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    t_in, t_out, c = meta["t_in"], meta["t_out"], meta["target_channels"]
    f, s, h, w = (meta[k] for k in ("forcing_channels", "static_channels", "height", "width"))
    return {
        "inputs": torch.randn(b, t_in, c, h, w, generator=g),
        "targets": torch.randn(b, t_out, c, h, w, generator=g),
        "forcings_in": torch.randn(b, t_in, f, h, w, generator=g),
        "forcings_out": torch.randn(b, t_out, f, h, w, generator=g),
        "static": torch.randn(b, s, h, w, generator=g),
    }


def test_concat_fusion_layout():
    fc = build_forecaster(CONVLSTM, META)
    batch = _batch()
    x, fa = fc.fusion(batch, 4)
    assert x.shape == (2, 3, 4, 8, 8) and fa.shape == (2, 4, 3, 8, 8)
    assert torch.equal(x[:, :, :1], batch["inputs"])
    assert torch.equal(x[:, :, 1:3], batch["forcings_in"])
    assert torch.equal(x[:, 2, 3], batch["static"][:, 0])
    assert torch.equal(fa[:, :, :2], batch["forcings_out"])
    assert torch.equal(fa[:, 3, 2], batch["static"][:, 0])


@pytest.mark.parametrize(
    "backbone",
    [
        CONVLSTM["backbone"],
        {"name": "simvp", "hid_S": 4, "hid_T": 8, "N_S": 2, "N_T": 2, "mlp_ratio": 2.0},
    ],
)
def test_forward_contract_and_rebuild(backbone):
    torch.manual_seed(0)
    fc = build_forecaster({"backbone": backbone, "fusion": "concat"}, META)
    batch = _batch()
    fc.train()
    out = fc(batch, teacher_forcing=1.0)
    assert out["pred"].shape == (2, 4, 1, 8, 8) and out["aux_losses"] == {}
    ((out["pred"] - batch["targets"]) ** 2).mean().backward()
    fc.eval()
    with torch.no_grad():
        pred = fc(batch)["pred"]
        longer = fc({**batch, "forcings_out": torch.randn(2, 9, 2, 8, 8)}, t_out=9)["pred"]
    assert longer.shape == (2, 9, 1, 8, 8)
    # constructor_args are plain data and rebuild an identical model
    cfg, meta = fc.constructor_args()
    assert cfg == {"backbone": backbone, "fusion": "concat"} and meta == META
    twin = Forecaster(cfg, meta)
    twin.load_state_dict(fc.state_dict())
    twin.eval()
    with torch.no_grad():
        assert torch.equal(twin(batch)["pred"], pred)


def test_eval_mode_ignores_targets_and_none_fusion_ignores_forcings():
    torch.manual_seed(0)
    fc = build_forecaster(CONVLSTM, META).eval()
    batch = _batch()
    with torch.no_grad():
        a = fc(batch, teacher_forcing=1.0)["pred"]
        b = fc({**batch, "targets": batch["targets"] + 5}, teacher_forcing=1.0)["pred"]
    assert torch.equal(a, b)
    solo = build_forecaster({**CONVLSTM, "fusion": "none"}, META).eval()
    assert solo.backbone.aux_channels == 0
    with torch.no_grad():
        p = solo(batch)["pred"]
        q = solo({**batch, "forcings_in": batch["forcings_in"] + 1, "static": batch["static"] * 0})
    assert torch.equal(p, q["pred"])


def test_config_errors_name_the_key():
    with pytest.raises(KeyError, match=r"'fusoin' \(did you mean 'fusion'\?\)"):
        build_forecaster({**CONVLSTM, "fusoin": "concat"}, META)
    with pytest.raises(TypeError, match=r"model.backbone.*'hid_t' \(did you mean 'hid_T'"):
        build_forecaster({"backbone": {"name": "simvp", "hid_t": 8}}, META)
    with pytest.raises(KeyError, match="set from the data"):
        build_forecaster({"backbone": {"name": "simvp", "in_shape": [3, 1, 8, 8]}}, META)
    with pytest.raises(KeyError, match=r"unknown fusion 'concatenate'.*'concat'"):
        build_forecaster({**CONVLSTM, "fusion": "concatenate"}, META)
    with pytest.raises(KeyError, match=r"meta is missing \['width'\]"):
        build_forecaster(CONVLSTM, {k: v for k, v in META.items() if k != "width"})
    with pytest.raises(ValueError, match=r"meta\['height'\] must be an int"):
        build_forecaster(CONVLSTM, {**META, "height": 8.0})
    fc = build_forecaster(CONVLSTM, META)
    bad = _batch()
    del bad["static"]
    with pytest.raises(KeyError, match=r"batch\['static'\]"):
        fc(bad)
    with pytest.raises(ValueError, match=r"batch\['forcings_out'\] must have shape"):
        fc(_batch(), t_out=6)


def test_count_parameters_trainable_only():
    cfg = {**CONVLSTM, "backbone": {**CONVLSTM["backbone"], "openstl_inert_params": True}}
    fc = build_forecaster(cfg, META)
    assert count_parameters(fc) > count_parameters(fc, trainable_only=True) > 0
    lean = build_forecaster(CONVLSTM, META)  # the inert parameters are opt-in
    assert count_parameters(lean) == count_parameters(lean, trainable_only=True)
    assert count_parameters(lean) == count_parameters(fc, trainable_only=True)


@pytest.mark.slow
def test_on_the_builtin_tec_sample():
    """Real windows (72×76 after padding, 7 forcings, 2 static planes) through the model."""
    from torch.utils.data import DataLoader

    from geostl.commands.demo import TEC_DEMO_CONFIG
    from geostl.data import build_datasets
    from geostl.datasets import sample

    cfg = {**TEC_DEMO_CONFIG, "padding": {"multiple": 4}}
    data = build_datasets(cfg, {"maps": sample("tec"), "omni": sample("tec_drivers")})
    meta = meta_from_dataset(data["train"])
    lon = meta.pop("lon")
    assert lon[0] == -180.0 and lon[72] == 180.0 and lon[-1] == 195.0  # padded columns go on
    assert meta.pop("time_step_hours") == 0.25
    assert meta == {
        "t_in": 8,
        "t_out": 12,
        "target_channels": 1,
        "forcing_channels": 7,
        "static_channels": 2,
        "height": 72,
        "width": 76,
    }
    torch.manual_seed(0)
    fc = build_forecaster(
        {"backbone": {"name": "convlstm", "num_hidden": [8], "filter_size": 3, "patch_size": 4}},
        meta,
    )
    batch = next(iter(DataLoader(data["train"], batch_size=2, shuffle=True)))
    opt = torch.optim.Adam(fc.parameters(), lr=1e-2)
    fc.train()
    losses = []
    for _ in range(10):
        out = fc(batch, teacher_forcing=0.5)
        mask = batch["target_mask"]
        loss = ((out["pred"] - batch["targets"]) ** 2)[mask].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert out["pred"].shape == (2, 12, 1, 72, 76)
    assert losses[-1] < 0.5 * losses[0]  # the loss falls on a real batch


def test_omegaconf_config_becomes_plain_data():
    omegaconf = pytest.importorskip("omegaconf")
    cfg = omegaconf.OmegaConf.create(CONVLSTM)
    fc = build_forecaster(cfg, META)
    model_cfg, _ = fc.constructor_args()
    assert type(model_cfg["backbone"]) is dict and type(model_cfg["backbone"]["num_hidden"]) is list
    assert model_cfg == CONVLSTM
