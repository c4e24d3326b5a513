"""ConvLSTM: the published parameter count, shapes, gradients, rollout and scheduled sampling."""

from __future__ import annotations

import pytest
import torch

from geostl.models import build_backbone, count_parameters


def test_parameter_count_matches_seed_table_1():
    """Iono configuration: 72×72, 1 channel, T_in 12, 4×128 hidden, filter 5, patch 4.

    Independent count (OpenSTL layout, bias-free convolutions), frame channels p²·C = 16:
      layer 0 conv_x 25·16·512 = 204 800, conv_h 25·128·512 = 1 638 400;
      layers 1-3 conv_x + conv_h 2·1 638 400 each = 9 830 400;
      readout 128·16 = 2 048                      → trainable 11 675 648;
      OpenSTL's unused conv_o 25·256·128 = 819 200 and conv_last 256·128 = 32 768 per cell,
      4 cells                                     → inert 3 407 872;
      total 15 083 520 = 15.08 M (seed Table 1: 15.08 M).
    """
    net = build_backbone(
        "convlstm", in_shape=(12, 1, 72, 72), out_channels=1, t_out=48, openstl_inert_params=True
    )
    total = count_parameters(net)
    assert total == 15_083_520
    assert abs(total / 15.08e6 - 1) < 0.005
    assert count_parameters(net, trainable_only=True) == 11_675_648
    lean = build_backbone("convlstm", in_shape=(12, 1, 72, 72), out_channels=1, t_out=48)
    assert count_parameters(lean) == 11_675_648
    # seed §1.6: concatenate-4 adds 3·16 input channels · 25·512 weights → 15.70 M
    cat4 = build_backbone(
        "convlstm",
        in_shape=(12, 4, 72, 72),
        out_channels=1,
        t_out=48,
        aux_channels=3,
        openstl_inert_params=True,
    )
    assert abs(count_parameters(cat4) / 15.70e6 - 1) < 0.005


def _small(aux: int = 2, **kw):
    torch.manual_seed(0)
    return build_backbone(
        "convlstm",
        in_shape=(3, 1 + aux, 8, 8),
        out_channels=1,
        t_out=4,
        aux_channels=aux,
        num_hidden=[6, 5],
        filter_size=3,
        patch_size=2,
        **kw,
    )


def _inputs(aux: int = 2, t_out: int = 4, b: int = 2, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 3, 1 + aux, 8, 8, generator=g)
    fa = torch.randn(b, t_out, aux, 8, 8, generator=g) if aux else None
    truth = torch.randn(b, t_out, 1, 8, 8, generator=g)
    return x, fa, truth


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"patch_size=4.*H=10"):
        build_backbone("convlstm", in_shape=(3, 1, 10, 12), out_channels=1, t_out=2)
    with pytest.raises(ValueError, match="C_in=2 must equal out_channels \\+ aux_channels"):
        build_backbone("convlstm", in_shape=(3, 2, 8, 8), out_channels=1, t_out=2)
    with pytest.raises(ValueError, match="stride must be 1"):
        build_backbone("convlstm", in_shape=(3, 1, 8, 8), out_channels=1, t_out=2, stride=2)
    net = _small()
    x, fa, truth = _inputs()
    with pytest.raises(ValueError, match="future_aux must have shape"):
        net(x, None, 4)
    with pytest.raises(ValueError, match="teacher_forcing must be in"):
        net(x, fa, 4, truth=truth, teacher_forcing=1.5)
    with pytest.raises(ValueError, match="x must have shape"):
        net(x[:, :2], fa, 4)


def test_cell_step_against_a_float64_reference():
    """One step equals the ConvLSTM equations written out: one conv over [x; h] → i, f, g, o."""
    from geostl.models.backbones import ConvLSTMCell

    torch.manual_seed(0)
    cell = ConvLSTMCell(3, 4, 6, 6, 3, layer_norm=False, openstl_inert_params=False).double()
    x, h, c = torch.randn(2, 3, 6, 6), torch.randn(2, 4, 6, 6), torch.randn(2, 4, 6, 6)
    x, h, c = x.double(), h.double(), c.double()
    weight = torch.cat([cell.conv_x[0].weight, cell.conv_h[0].weight], dim=1)  # (16, 7, 3, 3)
    z = torch.nn.functional.conv2d(torch.cat([x, h], dim=1), weight, padding=1)
    i, f, g, o = z[:, 0:4], z[:, 4:8], z[:, 8:12], z[:, 12:16]
    c_ref = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_ref = torch.sigmoid(o) * torch.tanh(c_ref)
    h_new, c_new = cell(x, h, c)
    torch.testing.assert_close(c_new, c_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_new, h_ref, rtol=1e-12, atol=1e-12)
