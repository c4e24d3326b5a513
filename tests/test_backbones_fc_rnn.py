"""Fully connected LSTM / GRU baselines on flattened frames (seed Table 1 "(LSTM)", "(GRU)")."""

from __future__ import annotations

import copy

import pytest
import torch

from geostl.benchmark.flops import count_flops
from geostl.models import build_backbone, count_parameters

IONO = {"in_shape": (12, 1, 72, 72), "out_channels": 1, "t_out": 48}
N = 72 * 72  # 5 184 values per flattened 1-channel frame


def test_parameter_counts_at_the_iono_configuration_and_the_gap_to_table_1():
    """Default: one layer of N = 5 184 units on N inputs, linear readout N → N.

    LSTM 4·(N·N + N·N + 2·N) = 215 032 320 + readout N² + N = 26 879 040 → 241 911 360
    (Table 1: 283.6 M, −14.7 %); GRU 3·(2·N² + 2·N) = 161 274 240 + 26 879 040 → 188 153 280
    (212.7 M, −11.5 %). Table 1's pair is exactly 4 : 3 (283.6·3 = 212.7·4 = 850.8), which
    leaves no room for an output layer above 0.4 M: 4·G = 283.6 M with G = 70.9 M per gate set,
    i.e. a per-gate N·(I + H) that no natural flattened-frame width gives (I = N: H ≈ 6 217).
    """
    with torch.device("meta"):  # counts only: no memory, no initialisation cost
        lstm = build_backbone("fc_lstm", **IONO)
        gru = build_backbone("fc_gru", **IONO)
        refs = (torch.nn.LSTM(N, N), torch.nn.GRU(N, N))
    readout = N * N + N
    assert count_parameters(lstm) == 4 * (2 * N * N + 2 * N) + readout == 241_911_360
    assert count_parameters(gru) == 3 * (2 * N * N + 2 * N) + readout == 188_153_280
    # same layout and count as PyTorch's nn.LSTM / nn.GRU of that size
    for net, ref in zip((lstm, gru), refs, strict=True):
        assert count_parameters(net) - readout == sum(p.numel() for p in ref.parameters())
    assert 283.6 * 3 == pytest.approx(212.7 * 4)


def test_macs_at_the_seed_setting():
    """12 → 48 (59 steps), B = 1: every step multiplies the gate matrices once, the 48 future
    steps also the readout. LSTM 59·8·N² + 48·N² = 13.97 G, GRU 59·6·N² + 48·N² = 10.80 G
    (Table 1: 5 035 G and 3 786 G, ≈17 600 uses of every weight per sample: not a
    frame-level recurrence)."""
    x = torch.empty(1, 12, 1, 72, 72, device="meta")
    for name, gates in (("fc_lstm", 4), ("fc_gru", 3)):
        with torch.device("meta"):
            net = build_backbone(name, **IONO).eval()
        fc = count_flops(net, (x, None, 48))
        assert fc.macs == 59 * 2 * gates * N * N + 48 * N * N


def _small(name: str, aux: int = 2, hidden=(16, 12), t_in: int = 3):
    torch.manual_seed(0)
    return build_backbone(
        name,
        in_shape=(t_in, 1 + aux, 4, 5),
        out_channels=1,
        t_out=2,
        aux_channels=aux,
        num_hidden=list(hidden),
    )


def _inputs(aux: int = 2, t_out: int = 2, b: int = 3):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(b, 3, 1 + aux, 4, 5, generator=g)
    fa = torch.randn(b, t_out, aux, 4, 5, generator=g) if aux else None
    truth = torch.randn(b, t_out, 1, 4, 5, generator=g)
    return x, fa, truth


@pytest.mark.parametrize("name", ["fc_lstm", "fc_gru"])
def test_cells_follow_pytorchs_lstm_and_gru_equations(name):
    """One layer, weights copied into nn.LSTM / nn.GRU: the hidden states agree."""
    net = _small(name, aux=0, hidden=(7,)).double()
    cell = net.cells[0]
    ref_cls = torch.nn.LSTM if name == "fc_lstm" else torch.nn.GRU
    ref = ref_cls(20, 7, batch_first=True).double()
    with torch.no_grad():
        ref.weight_ih_l0.copy_(cell.x2h.weight)
        ref.bias_ih_l0.copy_(cell.x2h.bias)
        ref.weight_hh_l0.copy_(cell.h2h.weight)
        ref.bias_hh_l0.copy_(cell.h2h.bias)
    seq = torch.randn(2, 3, 20, dtype=torch.float64)
    expected, _ = ref(seq)
    state = cell.init_state(2, seq)
    for t in range(3):
        h, state = cell(seq[:, t], state)
        torch.testing.assert_close(h, expected[:, t])


def test_one_channel_without_aux_and_bad_arguments():
    net = _small("fc_gru", aux=0).eval()
    x, _, _ = _inputs(aux=0)
    with torch.no_grad():
        assert net(x, None, 4).shape == (3, 4, 1, 4, 5)
    with pytest.raises(ValueError, match="num_hidden must list positive ints"):
        build_backbone("fc_lstm", in_shape=(3, 1, 4, 4), out_channels=1, t_out=2, num_hidden=[0])
    with pytest.raises(ValueError, match="fc_lstm: x must have shape"):
        _small("fc_lstm")(torch.zeros(1, 3, 2, 4, 5), None, 2)


def _fit(backbone: dict, tmp_path, steps: int = 4, epochs: int = 2, lr: float = 1e-2):
    """Train a Forecaster on the TEC sample (71×73); val loss before/after/epochs."""
    from geostl.commands.demo import TEC_DEMO_CONFIG
    from geostl.data import build_datasets
    from geostl.datasets import sample
    from geostl.engine import Trainer, validation_loss
    from geostl.models import build_forecaster, meta_from_dataset

    cfg = copy.deepcopy(TEC_DEMO_CONFIG)
    cfg["window"]["t_out"] = 4
    data = build_datasets(cfg, {"maps": sample("tec"), "omni": sample("tec_drivers")})
    meta = meta_from_dataset(data["train"])
    meta.pop("lon"), meta.pop("time_step_hours")
    torch.manual_seed(0)
    model = build_forecaster({"backbone": backbone}, meta)
    before = validation_loss(model, data["val"], 8)
    train = {"epochs": epochs, "batch_size": 4, "max_steps_per_epoch": steps, "lr": lr,
             "schedule": "constant", "seed": 0,
             "scheduled_sampling": {"start": 1.0, "decay_per_step": 0.1, "min": 0.0}}  # fmt: skip
    summary = Trainer(model, data, train, None, tmp_path / "fit", progress=False).fit()
    after = validation_loss(model, data["val"], 8)
    return before, after, [r["val_loss"] for r in summary["history"]]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fc_lstm", "fc_gru"])
def test_validation_loss_falls_on_the_tec_sample(name, tmp_path):
    before, after, vals = _fit({"name": name, "num_hidden": [16]}, tmp_path)
    assert after < 0.5 * before and vals[-1] < vals[0], (before, vals)
