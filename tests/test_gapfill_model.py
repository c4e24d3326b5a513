"""SpatioTemporalModel (ClimaNet gap-filling): parameter count, masks, decoder size, gradients."""

from __future__ import annotations

import pytest
import torch

from geostl.tasks.gapfill import MonthlyConvDecoder, SpatioTemporalModel


def _linear(i: int, o: int) -> int:
    return i * o + o


def _ln(e: int) -> int:
    return 2 * e


def _mha(e: int) -> int:
    return _linear(e, 3 * e) + _linear(e, e)


def test_parameter_count_at_spec_defaults() -> None:
    # spec §3.2 defaults: C=1, E=128, patch (1,4,4), hidden 256, overlap 1, depth 2, 12 periods
    C, E, (pt, ph, pw), hidden, ov, depth, M = 1, 128, (1, 4, 4), 256, 1, 2, 12
    encoder = 2 * C * E * pt * ph * pw + E + _ln(E)  # Conv3d(2C->E) + LayerNorm
    scorer = _ln(E) + _linear(E, E) + _linear(E, 1)
    cross = _ln(E) + _mha(E) + _ln(E) + _linear(E, 4 * E) + _linear(4 * E, E)
    spatial_layer = _mha(E) + _linear(E, 4 * E) + _linear(4 * E, E) + 2 * _ln(E)
    half = hidden // 2
    decoder = (
        _linear(E, hidden)  # 1x1 conv
        + hidden * half * (ph + 2 * ov) * (pw + 2 * ov)
        + half  # transposed conv
        + 2 * (half * half * 9 + half + 2 * half)  # two Conv3x3 + BatchNorm
        + _linear(half, 1)  # head
        + 2 * M  # scale and bias
    )
    expected = encoder + scorer + cross + depth * spatial_layer + decoder
    assert expected == 2_124_826
    model = SpatioTemporalModel()
    assert sum(p.numel() for p in model.parameters()) == expected


def _small_model(**kw) -> SpatioTemporalModel:
    torch.manual_seed(0)
    args = dict(
        embed_dim=16,
        patch=(1, 2, 2),
        max_steps=6,
        max_periods=3,
        num_periods=3,
        hidden=8,
        overlap=1,
        num_heads=2,
        spatial_depth=1,
    )
    args.update(kw)
    return SpatioTemporalModel(**args).eval()


def _inputs(B: int = 2, M: int = 3, T: int = 6, H: int = 8, W: int = 8):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, 1, M, T, H, W, generator=g)
    missing = torch.rand(B, 1, M, T, H, W, generator=g) < 0.3
    padded = torch.zeros(B, M, T, dtype=torch.bool)
    padded[:, 1, 4:] = True
    land = torch.zeros(H, W, dtype=torch.bool)
    land[:3, :2] = True
    return x, missing, padded, land


def test_masked_values_padded_steps_and_land_have_no_effect() -> None:
    model = _small_model()
    x, missing, padded, land = _inputs()
    with torch.no_grad():
        ref = model(x, missing, padded, land)["pred"]
        poked = x.clone()
        poked[missing] = 1e3  # missing observations
        poked[:, :, 1, 4:] = float("nan")  # padded steps
        poked[..., :3, :2] = -1e4  # land
        out = model(poked, missing, padded, land)["pred"]
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    assert bool((ref[..., :3, :2] == 0).all()), "land pixels must be 0 in the output"
    assert bool((ref[..., 3:, :].abs() > 0).all())


def test_masks_change_the_output_when_they_should() -> None:
    model = _small_model()
    x, missing, padded, land = _inputs()
    with torch.no_grad():
        ref = model(x, missing, padded, land)["pred"]
        # an observed value does reach the output
        poked = x.clone()
        obs = (~missing[0, 0, 0, 0]) & ~land
        r, c = [int(v) for v in obs.nonzero()[0]]
        poked[0, 0, 0, 0, r, c] += 5.0
        assert not torch.allclose(model(poked, missing, padded, land)["pred"][0, 0], ref[0, 0])
        # hiding that value changes the output too (the validity channel is seen)
        more = missing.clone()
        more[0, 0, 0, 0, r, c] = True
        assert not torch.allclose(model(x, more, padded, land)["pred"][0, 0], ref[0, 0])
        # unpadding steps changes period 1
        unpadded = torch.zeros_like(padded)
        out = model(x, missing, unpadded, land)["pred"]
        assert not torch.allclose(out[:, 1], ref[:, 1])
        # other land: different zeros
        out = model(x, missing, padded, torch.zeros_like(land))["pred"]
        assert bool((out[..., :3, :2] != 0).any())


def test_every_step_padded_is_an_error() -> None:
    model = _small_model()
    x, missing, padded, land = _inputs()
    padded[0, 2] = True
    with pytest.raises(ValueError, match="every step padded"):
        model(x, missing, padded, land)


@pytest.mark.parametrize(("patch", "overlap", "hw"), [((4, 4), 1, (32, 48)), ((2, 2), 2, (10, 6))])
def test_decoder_output_is_exactly_the_input_grid(patch, overlap, hw) -> None:
    H, W = hw
    h_, w_ = H // patch[0], W // patch[1]
    dec = MonthlyConvDecoder(16, patch, 8, overlap, 3)
    out = dec(torch.randn(2 * 3, h_ * w_, 16), 2, 3, (h_, w_))
    assert out.shape == (2, 3, H, W)


def test_gradients_reach_every_parameter() -> None:
    model = _small_model().train()
    x, missing, padded, land = _inputs()
    model(x, missing, padded, land)["pred"].square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), name


def test_bad_shapes_are_named() -> None:
    model = _small_model()
    x, missing, padded, land = _inputs(W=7)
    with pytest.raises(ValueError, match="divisible by the patch"):
        model(x, missing, padded, land[:, :7])
    x, missing, padded, land = _inputs()
    with pytest.raises(ValueError, match="padded"):
        model(x, missing, padded[:, :2], land)


def test_partly_padded_step_patch_ignores_its_padded_step() -> None:
    # Pt = 2: steps 2-3 form one patch; step 3 padded, step 2 not -> the patch still counts,
    # but the padded step's values are masked in the validity channel
    model = _small_model(patch=(2, 2, 2))
    x, missing, padded, land = _inputs()
    padded[:] = False
    padded[:, 1, 3:] = True
    with torch.no_grad():
        ref = model(x, missing, padded, land)["pred"]
        poked = x.clone()
        poked[:, :, 1, 3:] = 1e4
        out = model(poked, missing, padded, land)["pred"]
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
        poked = x.clone()
        poked[:, :, 1, 2] += 5.0  # the unpadded half of the patch does count
        assert not torch.allclose(model(poked, missing, padded, land)["pred"][:, 1], ref[:, 1])
