"""The Channel Mixer Layer against the seed's demonstration, its index formula and a slow
reference of the block rule written with plain loops."""

from __future__ import annotations

import pytest
import torch

from geostl.models import patch
from geostl.models.channel_mixer import (
    ChannelMixer,
    mix_frame,
    mixer_cell_size,
    trailing_block_pixels,
)


def _constant_maps(values: list[float], size: int = 6) -> torch.Tensor:
    """(1, C, size, size): channel c is the constant values[c] (Understand_Mixer.py's input)."""
    return torch.tensor(values).reshape(1, -1, 1, 1).expand(1, len(values), size, size).clone()


def test_understand_mixer_demo_four_channels():
    mixed = mix_frame(_constant_maps([1, 2, 3, 4]), "raster")
    cell = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    expected = cell.repeat(3, 3)  # every 2×2 cell is [[1, 2], [3, 4]]
    assert mixed.shape == (1, 4, 6, 6)
    for plane in mixed[0]:
        assert torch.equal(plane, expected)


def test_understand_mixer_demo_nine_channels():
    mixed = mix_frame(_constant_maps(list(range(1, 10))), "raster")
    expected = torch.arange(1.0, 10.0).reshape(3, 3).repeat(2, 2)
    for plane in mixed[0]:
        assert torch.equal(plane, expected)


def _geometric(pixels: list[list[float]], k: int, c_out: int, h_g: int, width: int):
    """out[c_out, i, j] = v_n[c] by §1.2's index formula (valid when k divides the width)."""
    out = torch.empty(c_out, h_g, width)
    for co in range(c_out):
        for i in range(h_g):
            r = co * h_g + i
            for j in range(width):
                n = (r // k) * (width // k) + j // k
                out[co, i, j] = pixels[n][(r % k) * k + j % k]
    return out


@pytest.mark.parametrize("c", [4, 9, 16])
def test_raster_matches_the_geometric_index_formula(c):
    h, w = 6, 12  # k = 2, 3, 4 all divide 12
    frame = torch.randperm(c * h * w).float().reshape(1, c, h, w)
    pixels = [[frame[0, ch, y, x].item() for ch in range(c)] for y in range(h) for x in range(w)]
    expected = _geometric(pixels, mixer_cell_size(c), c, h, w)
    assert torch.equal(mix_frame(frame, "raster")[0], expected)


@pytest.mark.parametrize("c,w", [(4, 24), (9, 36)])
def test_patched_matches_the_geometric_index_formula(c, w):
    p, h = 4, 24  # patch grid 6 × (6 or 9): k = 2 or 3 divides L
    frame = torch.randperm(c * h * w).float().reshape(1, 1, c, h, w)
    hp, wp = h // p, w // p
    pixels = [  # pixel order (hp, wp, ph, pw), read from the unpatched frame
        [frame[0, 0, ch, yp * p + ph, xp * p + pw].item() for ch in range(c)]
        for yp in range(hp)
        for xp in range(wp)
        for ph in range(p)
        for pw in range(p)
    ]
    expected = _geometric(pixels, mixer_cell_size(c), p * p * c, hp, wp)
    assert torch.equal(mix_frame(patch(frame, p)[:, 0], "patched", p)[0], expected)


def _block_rule_reference(seq: list[float], c: int, width: int) -> list[float]:
    """The block rule over a flat pixel-major sequence, with loops (trailing block uses A′)."""
    k = int(round(c**0.5))
    per_block = width // k
    n_pixels = len(seq) // c
    out = [0.0] * len(seq)
    start_pixel = 0
    while start_pixel < n_pixels:
        a_here = min(per_block, n_pixels - start_pixel)
        base = start_pixel * c
        for a in range(a_here):
            for b in range(k):
                for cc in range(k):
                    out[base + b * a_here * k + a * k + cc] = seq[base + a * k * k + b * k + cc]
        start_pixel += a_here
    return out


def _planes(seq: list[float], c_out: int, h_g: int, width: int) -> torch.Tensor:
    out = torch.empty(c_out, h_g, width)
    pos = 0
    for co in range(c_out):
        for i in range(h_g):
            for j in range(width):
                out[co, i, j] = seq[pos]
                pos += 1
    return out


def test_block_rule_sixteen_channels_on_the_18_wide_patch_grid():
    """The seed's non-divisible case: C = 16 (k = 4), 72×72 patched by 4 → L = 18, A = 4."""
    c, p, size = 16, 4, 72
    frame = torch.randperm(c * size * size).float().reshape(1, 1, c, size, size)
    grid = size // p
    seq = []  # pixel order (hp, wp, ph, pw), channel fastest, read from the unpatched frame
    f = frame[0, 0].tolist()
    for hp in range(grid):
        for wp in range(grid):
            for ph in range(p):
                for pw in range(p):
                    for ch in range(c):
                        seq.append(f[ch][hp * p + ph][wp * p + pw])
    assert trailing_block_pixels(grid * grid * p * p, c, grid) == 0
    expected = _planes(_block_rule_reference(seq, c, grid), p * p * c, grid, grid)
    got = mix_frame(patch(frame, p)[:, 0], "patched", p)[0]
    assert torch.equal(got, expected)
    # the cell rows wrap: row 0 of plane 0 holds 16 values of the first block's first cell
    # rows, then 2 values of the second block
    first = f[0][0][0], f[1][0][0], f[2][0][0], f[3][0][0]
    assert tuple(got[0, 0, :4].tolist()) == first


def test_trailing_partial_block_follows_the_rule_with_fewer_pixels():
    c, h, w = 4, 3, 5  # k = 2, A = 2, N = 15 → seven full blocks and one of A′ = 1 pixel
    frame = torch.randperm(c * h * w).float().reshape(1, c, h, w)
    assert trailing_block_pixels(h * w, c, w) == 1
    seq = [frame[0, ch, y, x].item() for y in range(h) for x in range(w) for ch in range(c)]
    expected = _planes(_block_rule_reference(seq, c, w), c, h, w)
    assert torch.equal(mix_frame(frame, "raster")[0], expected)


@pytest.mark.parametrize("c", [4, 9, 16])
@pytest.mark.parametrize("layout", ["raster", "patched"])
def test_mixing_is_a_bijection_of_the_elements(c, layout):
    p = 4 if layout == "patched" else 1
    frame = torch.randperm(c * 72 * 72).double().reshape(1, 1, c, 72, 72)
    fed = patch(frame, p)[:, 0]
    mixed = mix_frame(fed, layout, p)
    assert mixed.shape == fed.shape
    flat = mixed.flatten()
    assert torch.equal(torch.sort(flat).values, torch.sort(fed.flatten()).values)
    assert torch.unique(flat).numel() == flat.numel()  # every element exactly once
    assert not torch.equal(mixed, fed)


@pytest.mark.parametrize("layout,p", [("raster", 1), ("patched", 4)])
def test_channel_mixer_module_bypass_and_no_parameters(layout, p):
    c, targets = 9, 1
    mixer = ChannelMixer(c, targets, layout, p)
    assert sum(1 for _ in mixer.parameters()) == 0 and not list(mixer.buffers())
    assert mixer.state_dict() == {}
    frames = torch.randn(2, 3, c, 12, 12)  # (B, T, C, H, W): leading dims are kept
    fed = patch(frames, p)
    out = mixer(fed)
    assert out.shape == (2, 3, p * p * (targets + c), 12 // p, 12 // p)
    assert mixer.out_channels == out.shape[2]
    assert torch.equal(out[:, :, : p * p], patch(frames[:, :, :targets], p))  # bypass
    assert torch.equal(out[1, 2, p * p :], mix_frame(fed[1, 2][None], layout, p)[0])


@pytest.mark.parametrize("c", [1, 2, 5, 8, 12])
def test_non_square_channel_counts_are_refused(c):
    with pytest.raises(ValueError, match=rf"fusion 'mixer'.*got {c} "):
        ChannelMixer(c, 1, "raster")


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="target_channels must be in"):
        ChannelMixer(4, 4, "raster")
    with pytest.raises(ValueError, match="layout"):
        ChannelMixer(4, 1, "diagonal")
    with pytest.raises(ValueError, match="must be \\(…, 64, H, W\\)"):
        ChannelMixer(4, 1, "patched", 4)(torch.zeros(1, 4, 8, 8))
    with pytest.raises(ValueError, match="line_width"):
        mix_frame(torch.zeros(1, 16, 3, 3), "raster")  # L = 3 < k = 4
