"""Fusions ``mixer`` and ``action``: registry, Forecaster wiring, the backbones that use them,
and the seed's Table 1 parameter counts."""

from __future__ import annotations

import pytest
import torch

from geostl.models import FUSIONS, Forecaster, build_backbone, count_parameters, patch, unpatch
from geostl.models.backbones.predrnn_action_cell import ActionSpatioTemporalLSTMCell
from geostl.models.backbones.predrnn_cells import SpatioTemporalLSTMCell
from geostl.models.channel_mixer import ChannelMixer, mix_frame
from geostl.models.fusion import mixer_frame_transform
from geostl.models.patching import merge_patched_channels, split_patched_channels

RECURRENT = ("convlstm", "predrnn", "predrnnv2", "predrnnpp", "mim")
RASTER = ("simvp", "simvp_v2", "tau")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The models here are tiny: one intra-op thread avoids thread start-up and contention
    costs that dominate their run time on a shared machine (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _batch(b=2, t_in=3, t_out=4, f=2, s=1, h=8, w=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "inputs": torch.randn(b, t_in, 1, h, w, generator=g),
        "forcings_in": torch.randn(b, t_in, f, h, w, generator=g),
        "forcings_out": torch.randn(b, t_out, f, h, w, generator=g),
        "static": torch.randn(b, s, h, w, generator=g),
    }


def test_mixer_and_action_give_concat_inputs_and_declare_backbone_options():
    batch = _batch()
    ref_x, ref_future = FUSIONS.build(
        "concat", target_channels=1, forcing_channels=2, static_channels=1
    )(batch, 4)
    for name, options in (
        ("mixer", {"frame_transform": mixer_frame_transform}),
        ("action", {"action_channels": True}),
    ):
        fusion = FUSIONS.build(name, target_channels=1, forcing_channels=2, static_channels=1)
        x, future = fusion(batch, 4)
        assert torch.equal(x, ref_x) and torch.equal(future, ref_future)
        assert fusion.backbone_options == options and fusion.aux_channels == 3
    assert FUSIONS.get("concat").backbone_options == {}
    assert FUSIONS.get("none").backbone_options == {}


def test_mixer_fusion_refuses_a_non_square_channel_count():
    with pytest.raises(
        ValueError,
        match=r"fusion 'mixer' \(1 target \+ 3 forcing \+ 1 static.*"
        r"got 5",
    ):
        FUSIONS.build("mixer", target_channels=1, forcing_channels=3, static_channels=1)
    with pytest.raises(ValueError, match="fusion 'action' needs at least one auxiliary"):
        FUSIONS.build("action", target_channels=1)


META = {
    "t_in": 3,
    "t_out": 4,
    "target_channels": 1,
    "forcing_channels": 2,
    "static_channels": 1,
    "height": 8,
    "width": 8,
}
SMALL_RNN = {"num_hidden": [8, 8], "filter_size": 3, "patch_size": 2}


def test_forecaster_passes_the_option_and_reserves_its_key():
    model = Forecaster({"backbone": {"name": "convlstm", **SMALL_RNN}, "fusion": "mixer"}, META)
    hook = model.backbone.frame_transform
    assert isinstance(hook, ChannelMixer) and hook.out_channels == 4 * 5
    out = model(_batch())["pred"]
    assert out.shape == (2, 4, 1, 8, 8)
    with pytest.raises(KeyError, match="model.backbone.channel_mixer is set by the fusion"):
        Forecaster(
            {"backbone": {"name": "convlstm", "channel_mixer": True}, "fusion": "concat"}, META
        )
    model = Forecaster({"backbone": {"name": "predrnn", **SMALL_RNN}, "fusion": "action"}, META)
    assert model.backbone.action_channels
    assert model(_batch())["pred"].shape == (2, 4, 1, 8, 8)


@pytest.mark.parametrize(
    "backbone,fusion,able",
    [
        ("e3dlstm", "mixer", "convlstm, mim, predrnn, predrnnpp, predrnnv2, simvp, simvp_v2, tau"),
        ("mau", "mixer", "convlstm, mim"),
        ("convlstm", "action", "predrnn, predrnnv2"),
        ("simvp", "action", "predrnn, predrnnv2"),
    ],
)
def test_backbones_without_the_option_are_refused_with_the_list(backbone, fusion, able):
    with pytest.raises(ValueError) as err:
        Forecaster({"backbone": {"name": backbone}, "fusion": fusion}, META)
    msg = str(err.value)
    option = "frame_transform" if fusion == "mixer" else "action_channels"
    assert f"needs a backbone with the {option!r} option; backbone {backbone!r}" in msg
    assert msg.split("support it: ")[1].startswith(able)


# ---- backbones with the mixer -----------------------------------------------------------------


def _small(name: str, c: int = 4, t_in: int = 3, t_out: int = 4, **opts):
    kw = dict(in_shape=(t_in, c, 8, 8), out_channels=1, t_out=t_out, aux_channels=c - 1, **opts)
    if name in RASTER:
        kw.update(hid_S=8, hid_T=16, N_S=2, N_T=2)
    else:
        kw.update(SMALL_RNN)
    torch.manual_seed(0)
    return build_backbone(name, **kw)


def _record(module: torch.nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    calls: list[tuple[torch.Tensor, torch.Tensor]] = []
    module.register_forward_hook(lambda m, args, out: calls.append((args[0].detach(), out)))
    return calls


@pytest.mark.parametrize("name", RECURRENT)
def test_recurrent_backbones_mix_every_fed_frame(name):
    net = _small(name, frame_transform=mixer_frame_transform).train()
    p = 2
    x = torch.randn(2, 3, 4, 8, 8, requires_grad=True)
    fa = torch.randn(2, 4, 3, 8, 8)
    truth = torch.randn(2, 4, 1, 8, 8)
    mixer_calls = _record(net.frame_transform)
    first = net.cells[0] if hasattr(net, "cells") else net.first
    conv_x = first.conv_x
    seen_by_first_layer = _record(conv_x)
    out = net(x, fa, 4, truth=truth, teacher_forcing=1.0)  # every future frame teacher-forced
    assert out.shape == (2, 4, 1, 8, 8)
    assert len(mixer_calls) == 3 + 4 - 1
    for t, (fed, mixed) in enumerate(mixer_calls):
        frame = x[:, t] if t < 3 else torch.cat([truth[:, t - 3], fa[:, t - 3]], dim=1)
        assert torch.equal(fed, patch(frame[:, None].detach(), p)[:, 0])
        assert torch.equal(mixed[:, : p * p], patch(frame[:, None, :1].detach(), p)[:, 0])
        assert torch.equal(mixed[:, p * p :], mix_frame(fed, "patched", p))
        assert torch.equal(seen_by_first_layer[t][0], mixed.detach())
    (out.square().mean() + sum(net.aux_losses.values(), torch.zeros(()))).backward()
    assert x.grad is not None and x.grad[:, :, 1:].abs().sum() > 0  # aux reach the loss
    assert all(q.grad is not None for q in net.parameters() if q.requires_grad)


@pytest.mark.parametrize("name", RECURRENT)
def test_recurrent_mixer_closed_loop_feeds_own_output_and_future_aux(name):
    net = _small(name, frame_transform=mixer_frame_transform).eval()
    x, fa = torch.randn(2, 3, 4, 8, 8), torch.randn(2, 6, 3, 8, 8)
    calls = _record(net.frame_transform)
    with torch.no_grad():
        out = net(x, fa, 6)
    for k in range(5):
        fed = unpatch(calls[3 + k][0][:, None], 2)[:, 0]
        assert torch.equal(fed[:, :1], out[:, k]) and torch.equal(fed[:, 1:], fa[:, k])


@pytest.mark.parametrize("name", RASTER)
def test_simvp_mixer_chains_four_blocks_with_the_future_aux(name):
    """48 frames from 12 as 4 chained 12-frame blocks; block k+1 mixes [prediction k, the
    future aux of those frames], its bypass being the prediction."""
    net = _small(name, t_in=12, t_out=48, frame_transform=mixer_frame_transform).eval()
    x, fa = torch.randn(1, 12, 4, 8, 8), torch.randn(1, 48, 3, 8, 8)
    calls = _record(net.frame_transform)
    with torch.no_grad():
        out = net(x, fa, 48)
    assert out.shape == (1, 48, 1, 8, 8) and len(calls) == 4
    assert torch.equal(calls[0][0], x)
    for k in range(1, 4):
        fed, mixed = calls[k]
        prev = out[:, 12 * (k - 1) : 12 * k]
        assert torch.equal(fed, torch.cat([prev, fa[:, 12 * (k - 1) : 12 * k]], dim=2))
        assert torch.equal(mixed[:, :, :1], prev)  # bypass = the previous block's prediction
        flat = fed.reshape(12, 4, 8, 8)
        assert torch.equal(mixed[:, :, 1:].reshape(12, 4, 8, 8), mix_frame(flat, "raster"))
    assert net.encoder.layers[0].conv.in_channels == 5


def test_mixer_off_leaves_convlstm_unchanged():
    """Default construction draws the same weights and gives the same forecast as before the
    option existed (the mixer adds no parameters and no random draws)."""
    a, b = _small("convlstm"), _small("convlstm", frame_transform=None)
    assert a.frame_transform is None and list(a.state_dict()) == list(b.state_dict())
    for (ka, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(va, vb), ka
    mixed = _small("convlstm", frame_transform=mixer_frame_transform)
    assert count_parameters(mixed) - count_parameters(a) == 3 * 3 * 8 * 4 * (4 * 1)  # bypass


# ---- action-conditioned cells -----------------------------------------------------------------


def test_action_cell_multiplies_the_hidden_gates():
    """With conv_a(a) ≡ s the action cell equals an ST-LSTM whose conv_h weights are scaled by s
    (a Hadamard product, not a sum)."""
    torch.manual_seed(0)
    act = ActionSpatioTemporalLSTMCell(3, 2, 4, 5, 5, 3, False)
    plain = SpatioTemporalLSTMCell(3, 4, 5, 5, 3, False)
    plain.load_state_dict({k: v for k, v in act.state_dict().items() if "conv_a" not in k})
    with torch.no_grad():
        act.conv_a[0].weight.zero_()
        act.conv_a[0].weight[:, :, 1, 1] = 0.5  # centre tap: conv_a(a) = 0.5 · (a_0 + a_1)
        x, h, c, m = (torch.randn(2, n, 5, 5) for n in (3, 4, 4, 4))
        for s in (1.0, 2.5):
            a = torch.full((2, 2, 5, 5), s)
            plain.conv_h[0].weight.copy_(act.conv_h[0].weight * s)
            for got, want in zip(act(x, h, c, m, a), plain(x, h, c, m), strict=True):
                torch.testing.assert_close(got, want)


@pytest.mark.parametrize("name", ["predrnn", "predrnnv2"])
def test_action_backbones_frame_has_only_targets_and_aux_act(name):
    net = _small(name, action_channels=True).eval()
    p = 2
    assert net.cells[0].conv_x[0].in_channels == p * p * 1
    assert all(cell.conv_a[0].in_channels == p * p * 3 for cell in net.cells)
    seen = []
    net.cells[0].register_forward_hook(lambda m, args, out: seen.append(args))
    x, fa = torch.randn(2, 3, 4, 8, 8), torch.randn(2, 4, 3, 8, 8)
    with torch.no_grad():
        base = net(x, fa, 4)
        for t, args in enumerate(seen):
            frame, action = args[0], args[4]
            if t < 3:
                want = patch(x[:, t : t + 1], p)[:, 0]
                assert torch.equal(merge_patched_channels(frame, action, p), want)
            else:
                assert torch.equal(
                    frame, split_patched_channels(patch(base[:, t - 3 : t - 2], p), p, 1)[0][:, 0]
                )
                assert torch.equal(action, patch(fa[:, t - 3 : t - 2], p)[:, 0])
        fa2 = fa.clone()
        fa2[:, 1] += 1.0
        moved = net(x, fa2, 4)
    assert torch.equal(base[:, :2], moved[:, :2])  # causal
    assert (base[:, 2:] - moved[:, 2:]).abs().max() > 1e-6  # the action reaches the output


def test_action_refuses_mixer_and_missing_aux():
    with pytest.raises(ValueError, match="cannot be combined"):
        _small("predrnn", action_channels=True, frame_transform=mixer_frame_transform)
    with pytest.raises(ValueError, match="needs auxiliary channels"):
        build_backbone(
            "predrnn",
            in_shape=(3, 1, 8, 8),
            out_channels=1,
            t_out=4,
            action_channels=True,
            **SMALL_RNN,
        )


# ---- the seed's Table 1 counts ----------------------------------------------------------------


def _iono_count(name: str, c: int, **opts) -> int:
    with torch.device("meta"):
        net = build_backbone(
            name, in_shape=(12, c, 72, 72), out_channels=1, t_out=48, aux_channels=c - 1, **opts
        )
    return count_parameters(net)


@pytest.mark.parametrize(
    "c,opts,table,exact",
    [
        (1, {}, 15.08, 15_083_520),
        (4, {}, 15.70, 15_697_920),
        (4, {"frame_transform": mixer_frame_transform}, 15.90, 15_902_720),
        (16, {}, 18.16, 18_155_520),
        (16, {"frame_transform": mixer_frame_transform}, 18.36, 18_360_320),
    ],
)
def test_iono_convlstm_counts_match_table_1(c, opts, table, exact):
    n = _iono_count("convlstm", c, openstl_inert_params=True, **opts)
    # §1.6: each patched input channel costs 5·5·4·128 = 12 800 first-layer weights
    assert n == 15_083_520 + 12_800 * 16 * ((c - 1) + (1 if opts else 0))
    assert n == exact and abs(n / 1e6 - table) < 0.005
    # without the flag: minus the inert conv_o (2·128 → 128, 5×5) and conv_last (2·128 → 128,
    # 1×1) of each of the 4 cells, 4 · (256·128·25 + 256·128) = 3 407 872
    assert _iono_count("convlstm", c, **opts) == exact - 4 * (256 * 128 * 25 + 256 * 128)
