"""PhyDNet: OpenSTL's parameter count and MACs, the moment constraint, shapes, gradients,
rollout, teacher forcing, auxiliary channels and a short training on the TEC sample."""

from __future__ import annotations

import pytest
import torch

from backbone_fit_helpers import fit_on_tec_sample
from geostl.benchmark import count_flops
from geostl.models import build_backbone, count_parameters
from geostl.models.backbones.phydnet_cells import moment_basis, moment_matrix


@pytest.mark.slow
@pytest.mark.parametrize(
    ("shape", "patch", "gmacs"), [((10, 1, 64, 64), 4, 15.3), ((12, 1, 32, 64), 2, 36.8)]
)
def test_parameters_and_macs_match_openstl_published(shape, patch, gmacs):
    """OpenSTL: 3.09 M at MMNIST (patch 4) and WeatherBench-S (patch 2); 15.3 G / 36.8 G MACs
    (fvcore also counts GroupNorm, ~0.1 % here, which PyTorch's counter does not)."""
    net = build_backbone(
        "phydnet", in_shape=shape, out_channels=1, t_out=shape[0], patch_size=patch
    )
    assert count_parameters(net) == 3_091_732
    net = net.eval().to("meta")
    fc = count_flops(net, (torch.empty(1, *shape, device="meta"), None, shape[0]))
    assert fc.macs / 1e9 == pytest.approx(gmacs, rel=0.005)


@pytest.mark.slow
def test_iono_setting_macs():
    """12 → 48 at 72×72, patch 4 (not in Table 1): 59 steps."""
    net = build_backbone("phydnet", in_shape=(12, 1, 72, 72), out_channels=1, t_out=48).eval()
    fc = count_flops(net.to("meta"), (torch.empty(1, 12, 1, 72, 72, device="meta"), None, 48))
    assert fc.macs == 60_121_502_208


def test_moment_matrix_and_loss_follow_the_k2m_definition():
    k = 7
    m = moment_basis(k)
    assert m[0].tolist() == [1.0] * 7 and m[1].tolist() == [-3, -2, -1, 0, 1, 2, 3]
    assert m[2, 0] == pytest.approx(4.5)  # (-3)² / 2!
    w = torch.randn(3, k, k, dtype=torch.float64)
    ref = torch.stack([m @ w[i] @ m.T for i in range(3)])
    torch.testing.assert_close(moment_matrix(w), ref)
    net = build_backbone("phydnet", in_shape=(2, 1, 8, 8), out_channels=1, t_out=2, patch_size=2)
    # filters whose moments are exactly the targets give a zero loss
    inv = torch.linalg.inv(m)
    exact = torch.einsum(
        "ia,qab,jb->qij", inv, torch.eye(49, dtype=torch.float64).view(49, 7, 7), inv
    )
    with torch.no_grad():
        net.phycell[0].conv1.weight.copy_(exact.float().unsqueeze(1).expand(49, 64, 7, 7))
    assert net.moment_loss().item() < 1e-6
    with torch.no_grad():
        net.phycell[0].conv1.weight.zero_()
    # zero filters: every input channel contributes mean(E²) = 49 ones / (49·7·7) = 1/49
    assert net.moment_loss().item() == pytest.approx(64 / 49, rel=1e-6)


def _small(aux: int = 2, **kw):
    torch.manual_seed(0)
    return build_backbone(
        "phydnet",
        in_shape=(3, 1 + aux, 8, 8),
        out_channels=1,
        t_out=4,
        aux_channels=aux,
        patch_size=2,
        width=32,
        convlstm_hidden=[16, 32],
        **kw,
    )


def _inputs(aux: int = 2, t_out: int = 4, b: int = 2, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, 3, 1 + aux, 8, 8, generator=g)
    fa = torch.rand(b, t_out, aux, 8, 8, generator=g) if aux else None
    truth = torch.rand(b, t_out, 1, 8, 8, generator=g)
    return x, fa, truth


def test_shapes_gradients_and_moment_aux_loss():
    net = _small().train()
    x, fa, truth = _inputs()
    out = net(x, fa, 4, truth=truth, teacher_forcing=0.5)
    assert out.shape == (2, 4, 1, 8, 8)
    assert set(net.aux_losses) == {"moment"} and net.aux_losses["moment"].dim() == 0
    (((out - truth) ** 2).mean() + net.aux_losses["moment"]).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    net.eval()
    with torch.no_grad():
        net(x, fa, 4)
    assert net.aux_losses == {}


def test_bad_arguments_are_clear_errors():
    base = {"in_shape": (3, 1, 8, 8), "out_channels": 1, "t_out": 2}
    with pytest.raises(ValueError, match="patch_size=3"):
        build_backbone("phydnet", **base, patch_size=3)
    with pytest.raises(ValueError, match="patch_size=4 must be 2 or 4 and divide H=6"):
        build_backbone("phydnet", **{**base, "in_shape": (3, 1, 6, 8)})
    with pytest.raises(ValueError, match="convlstm_hidden"):
        build_backbone("phydnet", **base, convlstm_hidden=[128, 32])
    net = _small()
    x, fa, _ = _inputs()
    with pytest.raises(ValueError, match="future_aux must have shape"):
        net(x, None, 4)


@pytest.mark.slow
def test_validation_loss_falls_on_the_tec_sample(tmp_path):
    """Sigmoid output starts near 0.5 (TEC/200 is ~0.1): the loss falls fast."""
    backbone = {"name": "phydnet", "width": 32, "convlstm_hidden": [32]}
    before, after, vals = fit_on_tec_sample(
        backbone, tmp_path, epochs=2, steps=3, lr=1e-2, batch_size=2, t_out=2
    )
    assert after < 0.5 * before and vals[-1] < vals[0], (before, vals)


def test_cells_follow_their_equations_in_float64():
    """PhyCell's correction and the ConvLSTM update against the equations written out."""
    from geostl.models.backbones.phydnet_cells import PhyCellCell, PhyDConvLSTMCell

    torch.manual_seed(0)
    phy = PhyCellCell(8, 14, 7, groups=7).double()
    x, h = torch.randn(2, 8, 6, 6).double(), torch.randn(2, 8, 6, 6).double()
    gain = torch.sigmoid(phy.convgate(torch.cat([x, h], 1)))
    pred = h + phy.conv2(phy.norm(phy.conv1(h)))
    ref = pred + gain * (x - pred)
    got = phy(x, h)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
    params = list(phy.parameters())
    for a, b in zip(torch.autograd.grad(got.pow(2).sum(), params),
                    torch.autograd.grad(ref.pow(2).sum(), params), strict=True):  # fmt: skip
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)

    lstm = PhyDConvLSTMCell(8, 4, 3).double()
    c = torch.randn(2, 4, 6, 6).double()
    h4 = torch.randn(2, 4, 6, 6).double()
    i, f, o, g = lstm.conv(torch.cat([x, h4], 1)).chunk(4, 1)
    c_ref = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_ref = torch.sigmoid(o) * torch.tanh(c_ref)
    h_new, c_new = lstm(x, h4, c)
    torch.testing.assert_close(c_new, c_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_new, h_ref, rtol=1e-12, atol=1e-12)
