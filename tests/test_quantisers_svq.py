"""SVQ (Chen et al. 2023): parameter counts, frozen parts, the bottleneck identity, options,
and the usage/perplexity diagnostic."""

from __future__ import annotations

import math

import pytest
import torch

from geostl.models import QUANTISERS, count_parameters
from geostl.models.quantisers import CODEBOOK_INITS, SVQ, code_usage, init_codebook, perplexity


def test_parameter_count_matches_the_seed_for_d32_k10000_m128() -> None:
    svq = SVQ(32, 10_000, 128)
    first, second = svq.projection[0], svq.projection[2]
    assert count_parameters(first) == 32 * 128 + 128 == 4_224
    assert count_parameters(second) == 128 * 10_000 + 10_000 == 1_290_000
    assert svq.codebook.numel() == 320_000
    assert count_parameters(svq) == 4_224 + 1_290_000 + 320_000
    frozen = SVQ(32, 10_000, 128, freeze_codebook=True)
    assert count_parameters(frozen) == 4_224 + 1_290_000
    assert "codebook" in dict(frozen.named_buffers())
    assert count_parameters(SVQ(32, 10_000, 128, freeze_projection=True)) == 320_000
    assert count_parameters(SVQ(32, 10_000, 128, freeze_both=True)) == 0


def test_hidden_width_shrinks_to_k_and_linear_variant_has_one_layer() -> None:
    small = SVQ(8, 20, 128)
    assert small.hidden == 20
    assert count_parameters(small.projection) == (8 * 20 + 20) + (20 * 20 + 20)
    linear = SVQ(8, 50, nonlinear=False)
    assert isinstance(linear.projection, torch.nn.Linear)
    assert count_parameters(linear.projection) == 8 * 50 + 50


def test_frozen_codebook_gets_no_gradient_and_the_mlp_does() -> None:
    torch.manual_seed(0)
    svq = SVQ(6, 40, 16, freeze_codebook=True, init_method="kaiming")
    before = svq.codebook.clone()
    z = torch.randn(3, 6, 4, 5)
    q, _ = svq(z)
    q.square().sum().backward()
    assert not svq.codebook.requires_grad and svq.codebook.grad is None
    for name, p in svq.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    optimiser = torch.optim.SGD(svq.parameters(), lr=0.1)
    optimiser.step()
    assert torch.equal(svq.codebook, before)


def test_frozen_projection_trains_only_the_codebook() -> None:
    svq = SVQ(6, 40, 16, freeze_projection=True)
    q, _ = svq(torch.randn(2, 6, 3, 3))
    q.sum().backward()
    assert [n for n, _ in svq.named_parameters()] == ["codebook"]
    assert svq.codebook.grad is not None
    assert all(not b.requires_grad for n, b in svq.named_buffers() if "projection" in n)


def test_output_equals_the_bottleneck_identity_in_float64() -> None:
    """q = (EᵀW₂)·ReLU(W₁x + b₁) + Eᵀb₂ with the default identity output activation."""
    torch.manual_seed(1)
    svq = SVQ(5, 30, 7, init_method="normal").double()
    z = torch.randn(2, 5, 3, 4, dtype=torch.float64)
    q, info = svq(z)
    w1, b1 = svq.projection[0].weight, svq.projection[0].bias
    w2, b2 = svq.projection[2].weight, svq.projection[2].bias
    e = svq.codebook
    x = z.permute(0, 2, 3, 1).reshape(-1, 5)
    expected = torch.relu(x @ w1.T + b1) @ (e.T @ w2).T + e.T @ b2
    got = q.permute(0, 2, 3, 1).reshape(-1, 5)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    assert info["code_weights"].shape == (2, 3, 4, 30)


def test_activation_flags_change_the_code_weights() -> None:
    torch.manual_seed(2)
    out_relu = SVQ(4, 12, 8, out_relu=True)
    _, info = out_relu(torch.randn(2, 4, 3, 3))
    assert (info["code_weights"] >= 0).all() and (info["code_weights"] == 0).any()
    torch.manual_seed(3)
    linear_hidden = SVQ(4, 12, 8, hid_relu=False).double()
    x = torch.randn(1, 4, 1, 1, dtype=torch.float64)
    _, info = linear_hidden(x)
    lin1, lin2 = linear_hidden.projection[0], linear_hidden.projection[2]
    expected = lin2(lin1(x.reshape(1, 4)))
    torch.testing.assert_close(info["code_weights"].reshape(1, 12), expected)


@pytest.mark.parametrize("method", sorted(CODEBOOK_INITS))
def test_codebook_init_methods(method: str) -> None:
    torch.manual_seed(4)
    k, d = 400, 16
    e = init_codebook(k, d, method)
    assert e.shape == (k, d) and torch.isfinite(e).all()
    if method == "normal":
        assert abs(float(e.std()) - 1.0) < 0.05
    if method == "kaiming":
        assert float(e.abs().max()) <= math.sqrt(6 / d)
    if method == "xavier":
        assert float(e.abs().max()) <= math.sqrt(6 / (k + d))
    if method == "sparse":
        assert ((e == 0).sum(dim=0) == math.ceil(0.9 * k)).all()
    if method == "trunc":
        assert float(e.abs().max()) <= 2.0
    if method == "orthogonal":
        torch.testing.assert_close(e.T @ e, torch.eye(d), atol=1e-4, rtol=0)
    if method == "random":
        assert float(e.min()) >= 0 and float(e.max()) < 1


def test_bad_options_are_named() -> None:
    with pytest.raises(ValueError, match="init_method"):
        SVQ(4, 10, init_method="uniform")
    with pytest.raises(ValueError, match="codebook_size"):
        SVQ(4, 0)
    with pytest.raises(ValueError, match=r"\(N, 4, h, w\)"):
        SVQ(4, 10)(torch.randn(2, 3, 2, 2))
    with pytest.raises(TypeError, match="codebok_size"):
        QUANTISERS.build("svq", dim=4, codebok_size=10)


def test_perplexity_of_hand_made_histograms() -> None:
    assert perplexity(torch.tensor([5.0, 5.0, 5.0, 5.0])) == pytest.approx(4.0)
    assert perplexity(torch.tensor([0.0, 7.0, 0.0])) == pytest.approx(1.0)
    # p = (1/2, 1/4, 1/4): H = 1.5 ln 2, perplexity 2^1.5
    assert perplexity(torch.tensor([2.0, 1.0, 1.0, 0.0])) == pytest.approx(2**1.5)
    with pytest.raises(ValueError, match="positive sum"):
        perplexity(torch.zeros(3))


def test_code_usage_counts_weights_beyond_n_sigma() -> None:
    # 2 vectors × 4 codes, all 8 weights standardised together
    w = torch.tensor([[0.0, 0.0, 0.0, 4.0], [0.0, 0.0, 0.0, 0.0]])
    # mean 0.5, sample std sqrt(((3.5)^2 + 7·0.25)/7) = sqrt(2) → z of 4.0 = 3.5/√2 ≈ 2.47
    counts = code_usage(w, n_sigma=2.0)
    assert counts.tolist() == [0.0, 0.0, 0.0, 1.0]
    assert code_usage(w, n_sigma=3.0).sum() == 0


@pytest.mark.parametrize("nonlinear", [True, False])
def test_factorised_path_matches_values_and_gradients_in_float64(nonlinear: bool) -> None:
    torch.manual_seed(5)
    direct = SVQ(6, 70, 9, nonlinear=nonlinear).double()
    factorised = SVQ(6, 70, 9, nonlinear=nonlinear, factorised=True).double()
    factorised.load_state_dict(direct.state_dict())
    z = torch.randn(2, 6, 3, 3, dtype=torch.float64)
    target = torch.randn(2, 6, 3, 3, dtype=torch.float64)
    q_direct, _ = direct(z)
    q_fact, info = factorised(z)
    assert info == {}
    torch.testing.assert_close(q_fact, q_direct, rtol=1e-12, atol=1e-12)
    ((q_direct - target) ** 2).sum().backward()
    ((q_fact - target) ** 2).sum().backward()
    grads = dict(direct.named_parameters())
    for name, p in factorised.named_parameters():
        torch.testing.assert_close(p.grad, grads[name].grad, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="factorised=True needs out_relu=False"):
        SVQ(6, 70, factorised=True, out_relu=True)


def test_usage_perplexity_of_a_model_is_between_one_and_k() -> None:
    torch.manual_seed(6)
    svq = SVQ(4, 30, 8)
    z = torch.randn(5, 4, 6, 6)
    value = svq.usage_perplexity(z, n_sigma=2.0)
    w = svq.code_weights(z.permute(0, 2, 3, 1)).detach()
    assert value == pytest.approx(perplexity(code_usage(w, 2.0)))
    assert 1.0 <= value <= 30.0
