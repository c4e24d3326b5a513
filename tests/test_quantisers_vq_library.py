"""VQ baselines through vector-quantize-pytorch (the SVQ paper): the adapter's settings and
reshaping, and one training step of a tiny SimVP with each baseline."""

from __future__ import annotations

import pytest
import torch

from geostl.engine.loss import total_loss
from geostl.models.backbones.simvp import SimVP
from geostl.models.quantisers import VQ_SETTINGS, LibraryVQ

vqp = pytest.importorskip(
    "vector_quantize_pytorch", reason="optional extra 'vq' (vector-quantize-pytorch) not installed"
)

TINY = {
    "in_shape": (4, 1, 8, 8),
    "out_channels": 1,
    "t_out": 4,
    "hid_S": 32,
    "hid_T": 16,
    "N_S": 2,
    "N_T": 2,
}
WITH_LOSS = sorted(set(VQ_SETTINGS) - {"rfsq"})


def test_seed_settings_reach_the_library_classes() -> None:
    vq = LibraryVQ(32, "vq").quantiser
    assert isinstance(vq, vqp.VectorQuantize)
    assert vq.codebook_size == 1024 and vq.commitment_weight == 1.0
    assert vq._codebook.decay == pytest.approx(0.8)
    mh = LibraryVQ(32, "mhvq").quantiser
    assert mh.heads == 8 and not mh.separate_codebook_per_head
    rvq = LibraryVQ(32, "rvq").quantiser
    assert isinstance(rvq, vqp.ResidualVQ) and rvq.num_quantizers == 8
    grvq = LibraryVQ(32, "grvq").quantiser
    assert isinstance(grvq, vqp.GroupedResidualVQ) and grvq.groups == 2
    assert len(grvq.rvqs) == 2 and grvq.rvqs[0].num_quantizers == 8
    rfsq = LibraryVQ(32, "rfsq").quantiser
    assert isinstance(rfsq, vqp.ResidualFSQ) and rfsq.codebook_size == 8 * 5 * 5 * 3
    lfq = LibraryVQ(32, "lfq").quantiser
    assert isinstance(lfq, vqp.LFQ) and lfq.codebook_size == 8192
    assert lfq.entropy_loss_weight == pytest.approx(0.1)
    rlfq = LibraryVQ(32, "rlfq").quantiser
    assert isinstance(rlfq, vqp.ResidualLFQ) and rlfq.num_quantizers == 8


def test_tokens_round_trip_keeps_pixel_vectors_in_place() -> None:
    """With a codebook holding exactly the input vectors, VQ (nearest code) returns z unchanged:
    this fails if the (N, D, h, w) ↔ (N, h·w, D) reshaping mixes pixels or channels."""
    torch.manual_seed(0)
    z = torch.randn(2, 32, 3, 4)
    adapter = LibraryVQ(32, "vq", settings={"codebook_size": 24, "decay": 1.0}).eval()
    vectors = z.permute(0, 2, 3, 1).reshape(24, 32)
    with torch.no_grad():
        adapter.quantiser._codebook.embed.copy_(vectors.unsqueeze(0))
    q, info = adapter(z)
    torch.testing.assert_close(q, z)
    assert info["loss_vq"].dim() == 0


@pytest.mark.parametrize("vq_type", sorted(VQ_SETTINGS))
def test_each_baseline_trains_one_step_in_simvp(vq_type: str) -> None:
    torch.manual_seed(1)
    model = SimVP(**TINY, quantiser={"name": "library_vq", "vq_type": vq_type}).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    x = torch.randn(2, 4, 1, 8, 8)
    batch = {"targets": x, "target_mask": torch.ones_like(x, dtype=torch.bool)}
    output = {"pred": model(x, None, 4), "aux_losses": model.aux_losses}
    loss, parts = total_loss(output, batch)
    assert torch.isfinite(loss)
    if vq_type in WITH_LOSS:
        assert set(parts) == {"mse", "loss_vq"} and model.aux_losses["loss_vq"].dim() == 0
    else:
        assert model.aux_losses == {}
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    assert model.encoder.layers[0].conv.weight.grad is not None


def test_bad_vq_settings_are_named() -> None:
    with pytest.raises(ValueError, match="vq_type must be one of"):
        LibraryVQ(32, "pq")
    with pytest.raises(TypeError, match=r"library_vq \(vq → VectorQuantize\)"):
        LibraryVQ(32, "vq", settings={"codebok_size": 10})
    with pytest.raises(ValueError, match=r"\(N, 32, h, w\)"):
        LibraryVQ(32, "vq")(torch.randn(2, 16, 2, 2))
