"""Space-to-depth patching and the scheduled-sampling schedule."""

from __future__ import annotations

import pytest
import torch

from geostl.models import ScheduledSampling, patch, teacher_forcing_probability, unpatch
from geostl.models.patching import merge_patched_channels, split_patched_channels


def test_patch_hand_example():
    # one frame, 2 channels, 2x4 grid, p = 2 → 8 channels on a 1x2 grid
    a = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    frames = torch.stack([a, 10 * a])[None, None]  # (1, 1, 2, 2, 4)
    out = patch(frames, 2)
    assert out.shape == (1, 1, 8, 1, 2)
    # channel order (ph, pw, c): (0,0,c0) (0,0,c1) (0,1,c0) (0,1,c1) (1,0,c0) ...
    left = [1, 10, 2, 20, 5, 50, 6, 60]
    right = [3, 30, 4, 40, 7, 70, 8, 80]
    assert out[0, 0, :, 0, 0].tolist() == left
    assert out[0, 0, :, 0, 1].tolist() == right
    assert torch.equal(unpatch(out, 2), frames)


def test_round_trip_and_index_formula():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 12, 8, generator=g)
    p = 4
    y = patch(x, p)
    assert y.shape == (2, 3, 5 * 16, 3, 2)
    assert torch.equal(unpatch(y, p), x)
    b, t, c, i, j, ph, pw = 1, 2, 3, 2, 1, 3, 0
    assert y[b, t, (ph * p + pw) * 5 + c, i, j] == x[b, t, c, i * p + ph, j * p + pw]


def test_split_and_merge_match_patching_of_a_concat():
    x = torch.randn(2, 1, 5, 8, 8)
    p = 2
    a, rest = split_patched_channels(patch(x, p), p, 2)
    assert torch.equal(a, patch(x[:, :, :2], p))
    assert torch.equal(rest, patch(x[:, :, 2:], p))
    assert torch.equal(merge_patched_channels(a[:, 0], rest[:, 0], p), patch(x, p)[:, 0])


def test_patch_errors_name_p_and_shape():
    with pytest.raises(ValueError, match=r"\(1, 1, 1, 6, 8\).*p=4.*H=6"):
        patch(torch.zeros(1, 1, 1, 6, 8), 4)
    with pytest.raises(ValueError, match="not a multiple of p"):
        unpatch(torch.zeros(1, 1, 6, 2, 2), 2)
    with pytest.raises(ValueError, match="5-D"):
        patch(torch.zeros(1, 6, 8), 2)


def test_linear_schedule():
    assert teacher_forcing_probability(0) == 1.0
    assert teacher_forcing_probability(25_000) == pytest.approx(0.5)
    assert teacher_forcing_probability(50_000) == pytest.approx(0.0)
    assert teacher_forcing_probability(80_000) == 0.0  # floored, never negative
    s = ScheduledSampling.from_dict({"start": 0.8, "decay_per_step": 0.1, "min": 0.25})
    assert [round(s.probability(k), 10) for k in range(7)] == [0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.25]
    with pytest.raises(KeyError, match="decay"):
        ScheduledSampling.from_dict({"start": 1.0, "decay": 0.1})
    with pytest.raises(ValueError, match="start"):
        ScheduledSampling(start=1.5)
    with pytest.raises(ValueError, match="step"):
        teacher_forcing_probability(-1)
