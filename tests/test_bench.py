"""Benchmark: FLOP counts against hand counts, parameter counts, report round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from geostl.benchmark import (
    FLOPS_NOTE,
    backbone_inputs_fn,
    bench_from_json,
    bench_to_json,
    bench_to_markdown,
    benchmark_model,
    count_flops,
    measure_matmul_flops,
    peak_memory,
)


class SmallConvNet(nn.Module):
    """conv 3->8 (3x3, pad 1) on 16x16, ReLU, conv 8->4 (3x3, stride 2, pad 1) -> 8x8, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 4, 3, stride=2, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c2(torch.relu(self.c1(x)))
        return self.fc(h.flatten(1))


def test_flops_of_a_conv_net_equal_the_hand_count() -> None:
    # multiply-adds: output elements x (C_in x k x k) per conv, in x out per linear row
    macs_c1 = (8 * 16 * 16) * (3 * 3 * 3)  # 55 296
    macs_c2 = (4 * 8 * 8) * (8 * 3 * 3)  # 18 432
    macs_fc = 256 * 10  # 2 560
    fc = count_flops(SmallConvNet().eval(), (torch.randn(1, 3, 16, 16),))
    assert fc.flops == 2 * (macs_c1 + macs_c2 + macs_fc) == 152_576
    assert fc.macs == macs_c1 + macs_c2 + macs_fc
    assert fc.by_op == {"aten.convolution": 2 * (macs_c1 + macs_c2), "aten.addmm": 2 * macs_fc}
    # batch of 5: five times as many
    assert count_flops(SmallConvNet(), torch.randn(5, 3, 16, 16)).flops == 5 * 152_576


def test_flops_of_a_linear_layer_forward_and_backward() -> None:
    lin = nn.Linear(32, 7)
    x = torch.randn(3, 32)
    assert count_flops(lin, x).flops == 2 * 3 * 32 * 7
    # backward: grad of the weight (7x3 @ 3x32) and of the input (3x7 @ 7x32); x needs grad
    x.requires_grad_(True)
    assert count_flops(lin, x, train=True).flops == 3 * (2 * 3 * 32 * 7)
    assert all(p.grad is None for p in lin.parameters())  # counting leaves no gradients


@pytest.mark.parametrize(
    ("conv", "shape"),
    [
        (nn.Conv2d(16, 16, 7, padding=3, groups=16), (2, 16, 9, 11)),  # depthwise
        (nn.Conv2d(8, 12, 3, stride=2, padding=2, dilation=2, groups=4), (1, 8, 10, 10)),
        (nn.Conv2d(4, 6, 5, padding=2), (3, 4, 8, 8)),
        (nn.ConvTranspose2d(6, 4, 2, stride=2, groups=2), (1, 6, 5, 7)),
    ],
)
def test_conv_backward_counts_each_gradient_as_one_forward(conv: nn.Conv2d, shape: tuple) -> None:
    x = torch.randn(*shape)
    out = conv(x)
    c_out_or_in, c_per_group, *kernel = conv.weight.shape
    spatial = (x if isinstance(conv, nn.ConvTranspose2d) else out).shape[2:]
    fwd = 2 * shape[0] * c_out_or_in * c_per_group * int(np.prod(kernel)) * int(np.prod(spatial))
    assert count_flops(conv, x).flops == fwd
    # weight gradient only (x needs no grad), then input and weight gradients
    assert count_flops(conv, x, train=True).flops == 2 * fwd
    assert count_flops(conv, x.requires_grad_(True), train=True).flops == 3 * fwd


class TinyBackbone(nn.Module):
    """Backbone contract: (x, future_aux, t_out, truth=None) -> (B, t_out, C_out, H, W)."""

    def __init__(self, t_in: int, c_in: int, t_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(t_in * c_in, t_out, 3, padding=1)
        self.saw_truth = False

    def forward(self, x, future_aux, t_out, truth=None):  # noqa: ANN001
        b, t, c, h, w = x.shape
        self.saw_truth = self.saw_truth or truth is not None
        return self.conv(x.reshape(b, t * c, h, w)).reshape(b, t_out, 1, h, w)


def test_benchmark_model_report_round_trip(tmp_path: Path) -> None:
    model = TinyBackbone(4, 3, 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    res = benchmark_model(
        model,
        backbone_inputs_fn((4, 3, 12, 10), out_channels=1, t_out=2, aux_channels=2),
        batch_size=2,
        train_inputs_fn=backbone_inputs_fn((4, 3, 12, 10), 1, 2, 2, train=True),
        device="cpu",
        warmup=1,
        iters=2,
        matmul_n=64,
        name="tiny",
        input_desc="4x3x12x10 -> 2",
    )
    assert res["params"] == sum(p.numel() for p in model.parameters()) == 12 * 2 * 9 + 2
    assert res["flops"] == 2 * (2 * 12 * 10) * (12 * 9) and res["macs"] == res["flops"] // 2
    assert res["train_flops"] == 2 * res["flops"]  # + weight gradient; input needs no grad
    for key in ("infer_seq_per_s", "train_seq_per_s", "matmul_flops_per_s"):
        assert res[key] > 0
    assert res["infer_achieved_flops_per_s"] == res["flops"] * res["infer_seq_per_s"]
    frac = res["train_achieved_flops_per_s"] / res["matmul_flops_per_s"]
    assert res["train_fraction_of_matmul"] == pytest.approx(frac)
    assert res["infer_peak_mem_bytes"] >= 0 and res["train_peak_mem_bytes"] >= 0
    assert FLOPS_NOTE in res["notes"]
    # the caller's model is untouched (benchmark works on a copy)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert not model.saw_truth

    md = bench_to_markdown([res, {**res, "model": "tiny2", "train_seq_per_s": None}])
    lines = md.splitlines()
    assert lines[0].startswith("| model | input | batch | device | params (M) | GFLOPs | GMACs")
    assert lines[2].startswith("| tiny | 4x3x12x10 -> 2 | 2 | cpu | 0.000 |")
    assert "| tiny2 |" in lines[3] and "| - |" in lines[3]
    assert "MACs = FLOPs / 2" in md and "memory:" in md

    path = tmp_path / "bench.json"
    text = bench_to_json([res], path)
    assert bench_from_json(path) == [res] == bench_from_json(text)
    with pytest.raises(ValueError, match="results"):
        bench_from_json('{"rows": []}')


def test_forecaster_style_batch_dict_and_matmul_rate() -> None:
    class DictModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(6, 6)

        def forward(self, batch: dict) -> dict:
            return {"pred": self.lin(batch["inputs"]), "aux_losses": {}}

    res = benchmark_model(
        DictModel(),
        lambda b: {"inputs": torch.randn(b, 6)},
        batch_size=3,
        warmup=0,
        iters=1,
        matmul_n=0,
        device="cpu",
    )
    assert res["flops"] == 2 * 6 * 6 and "matmul_flops_per_s" not in res
    assert measure_matmul_flops(n=32, iters=2) > 0
    mem, method = peak_memory(lambda: torch.ones(1 << 22).sum(), torch.device("cpu"))  # 16 MiB
    assert mem >= 0 and "cpu" in method
    if "VmHWM" in method:  # the exact method (Linux): the 16 MiB tensor is seen
        assert mem >= 15 * 2**20
    with pytest.raises(ValueError, match="C_in=3"):
        backbone_inputs_fn((4, 3, 8, 8), out_channels=1, t_out=2, aux_channels=0)


def test_bench_kwargs_apply_to_all_models_or_one_scoped_model() -> None:
    from geostl.commands.bench import _bench_kwargs

    got = _bench_kwargs(
        ["num_hidden=[8,8]", "e3dlstm.patch_size=8", "e3dlstm.num_hidden=[4]"],
        ["convlstm", "e3dlstm"],
    )
    assert got == {
        "convlstm": {"num_hidden": [8, 8]},
        "e3dlstm": {"num_hidden": [4], "patch_size": 8},
    }
    with pytest.raises(SystemExit, match="'mim' is not one of the --model names"):
        _bench_kwargs(["mim.patch_size=8"], ["convlstm"])
    with pytest.raises(SystemExit, match="expected key=value"):
        _bench_kwargs(["patch_size"], ["convlstm"])


def test_bench_keeps_the_other_models_when_one_fails(monkeypatch, tmp_path, capsys) -> None:
    import json

    from geostl import cli

    seen_before_call: list[str] = []

    def fake(name, *args, **kwargs):
        seen_before_call.append(capsys.readouterr().out)  # what was printed before this model
        if name == "prednet":
            raise ValueError("prednet: H=72 and W=72 must be divisible by 16")
        return {"name": name, "model": name, "infer_seq_per_s": 2.5, "notes": ["a note"]}

    monkeypatch.setattr("geostl.benchmark.benchmark_backbone", fake)
    monkeypatch.setattr(
        "geostl.benchmark.bench_to_json",
        lambda rs, path: Path(path).write_text(json.dumps([r["name"] for r in rs])),
    )
    out = tmp_path / "b.json"
    args = cli.build_parser().parse_args(
        ["bench", "--model", "convlstm", "--model", "prednet", "--model", "simvp"]
        + ["--json", str(out)]
    )
    assert args.func(args) == 1
    printed = capsys.readouterr()
    # each row is printed as its model finishes: convlstm's before simvp runs
    # (readouterr empties the buffer: each entry is what came since the previous model)
    assert seen_before_call[0] == ""
    assert seen_before_call[1] == "| model | infer seq/s |\n|---|---|\n| convlstm | 2.50 |\n"
    assert seen_before_call[2] == ""  # prednet failed: no row
    assert printed.out.startswith("| simvp | 2.50 |\n\n- a note\n- torch None")
    assert "prednet: ValueError: prednet: H=72" in printed.err
    assert json.loads(out.read_text()) == ["convlstm", "simvp"]
