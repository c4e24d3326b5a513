"""The phase-grid dilated depth-wise convolution equals PyTorch's dilated convolution, and the
channels-last translators equal the channels-first computation of the same blocks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from geostl.models.backbones.simvp_translators import MetaTranslator
from geostl.models.blocks.dilated_depthwise import DilatedDepthwiseConv2d

CASES = [  # (channels, kernel, dilation, H, W): the seeds' 7x7/3 and MogaNet's 5x5/2, and
    (16, 7, 3, 18, 18),  # grids not divisible by the dilation
    (8, 7, 3, 17, 20),
    (6, 5, 2, 9, 9),
    (5, 3, 4, 7, 11),
    (4, 7, 3, 2, 3),  # a grid smaller than the dilation
]


def _dilated_reference(m: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    return F.conv2d(x, m.weight, m.bias, m.stride, m.padding, m.dilation, m.groups)


@pytest.mark.parametrize("c, k, d, h, w", CASES)
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_phase_grids_equal_the_dilated_convolution_in_float64(c, k, d, h, w, memory_format):
    torch.manual_seed(0)
    m = DilatedDepthwiseConv2d(c, c, k, padding=d * (k - 1) // 2, groups=c, dilation=d).double()
    assert m._uses_phases()
    x = torch.randn(3, c, h, w, dtype=torch.float64).contiguous(memory_format=memory_format)
    x.requires_grad_(True)
    y, ref = m(x), _dilated_reference(m, x)
    assert y.shape == ref.shape == (3, c, h, w)
    assert y.is_contiguous(memory_format=memory_format)
    torch.testing.assert_close(y, ref, rtol=0, atol=1e-12)
    g = torch.randn_like(y)
    got = torch.autograd.grad(y, (x, m.weight, m.bias), g)
    want = torch.autograd.grad(ref, (x, m.weight, m.bias), g)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"padding": 9, "groups": 8, "dilation": 3, "stride": 2},  # strided
        {"padding": 12, "groups": 8, "dilation": 3},  # not "same"
        {"padding": 9, "groups": 2, "dilation": 3},  # not depth-wise
        {"padding": 3, "groups": 8, "dilation": 1},  # undilated
        {"padding": 9, "groups": 8, "dilation": 3, "padding_mode": "circular"},
    ],
)
def test_other_layers_run_as_a_plain_convolution(kwargs):
    torch.manual_seed(1)
    m = DilatedDepthwiseConv2d(8, 8, 7, **kwargs).double()
    assert not m._uses_phases()
    plain = nn.Conv2d(8, 8, 7, **kwargs).double()
    plain.load_state_dict(m.state_dict())
    x = torch.randn(2, 8, 13, 13, dtype=torch.float64)
    torch.testing.assert_close(m(x), plain(x), rtol=0, atol=0)


def test_same_parameters_and_state_dict_names_as_a_conv2d():
    m = DilatedDepthwiseConv2d(12, 12, 7, padding=9, groups=12, dilation=3)
    plain = nn.Conv2d(12, 12, 7, padding=9, groups=12, dilation=3)
    assert isinstance(m, nn.Conv2d)
    assert {k: v.shape for k, v in m.state_dict().items()} == {
        k: v.shape for k, v in plain.state_dict().items()
    }
    plain.load_state_dict(m.state_dict())  # and back: checkpoints of either load in the other


# the blocks that run channels-last, at a small width (float64 for an exact comparison)
CHANNELS_LAST_BLOCKS = ["gsta", "tau", "convmixer", "convnext", "hornet", "moganet", "van"]


@pytest.mark.parametrize("model_type", CHANNELS_LAST_BLOCKS)
def test_channels_last_translator_equals_the_channels_first_computation(model_type, monkeypatch):
    """The translator as it runs (channels-last memory, phase-grid dilated convolutions)
    against the same weights computed as before: channels-first, PyTorch's dilated kernels."""
    torch.manual_seed(2)
    tr = MetaTranslator(model_type, 32, 64, 3, (10, 10), mlp_ratio=2.0).double().train()
    assert tr.channels_last
    x = torch.randn(2, 32, 10, 10, dtype=torch.float64, requires_grad=True)
    g = torch.randn(2, 32, 10, 10, dtype=torch.float64)
    params = [p for p in tr.parameters() if p.requires_grad]

    torch.manual_seed(3)  # the stochastic depth draws
    y = tr(x)
    assert y.is_contiguous()
    got = torch.autograd.grad(y, [x, *params], g)

    monkeypatch.setattr(DilatedDepthwiseConv2d, "_uses_phases", lambda self: False)
    torch.manual_seed(3)
    ref = tr.layers(x)  # channels-first, plain convolutions: the code before the change
    want = torch.autograd.grad(ref, [x, *params], g)
    torch.testing.assert_close(y, ref, rtol=1e-10, atol=1e-10)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("model_type", ["gsta", "tau"])
def test_float32_translator_within_rounding_of_the_channels_first_one(model_type, monkeypatch):
    """The seeds' blocks in float32 at the seeds' latent grid (18 x 18), a narrower width."""
    torch.manual_seed(4)
    tr = MetaTranslator(model_type, 96, 64, 2, (18, 18)).eval()
    x = torch.randn(2, 96, 18, 18)
    with torch.no_grad():
        y = tr(x)
        monkeypatch.setattr(DilatedDepthwiseConv2d, "_uses_phases", lambda self: False)
        ref = tr.layers(x)
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)
