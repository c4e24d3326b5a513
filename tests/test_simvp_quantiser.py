"""SimVP + quantiser (the SVQ paper): placement before / after the translator, the unquantised
skip, parameter counts, ``loss_vq`` reaching the training loss, and the input-noise option."""

from __future__ import annotations

import pytest
import torch

from geostl.engine.loss import total_loss
from geostl.models import Forecaster, count_parameters
from geostl.models.backbones.simvp import SimVP
from geostl.models.quantisers import SVQ

TINY = {
    "in_shape": (4, 1, 8, 8),
    "out_channels": 1,
    "t_out": 4,
    "hid_S": 8,
    "hid_T": 16,
    "N_S": 2,
    "N_T": 2,
}
SVQ_CFG = {"name": "svq", "codebook_size": 50, "hidden": 16}


def _capture(module: torch.nn.Module, store: dict[str, torch.Tensor], key: str) -> None:
    def hook(_m: torch.nn.Module, args: tuple, out: object) -> None:
        store[key + "_in"] = args[0].detach().clone()
        store[key + "_out"] = (out[0] if isinstance(out, tuple) else out).detach().clone()

    module.register_forward_hook(hook)


def test_defaults_are_unchanged() -> None:
    torch.manual_seed(0)
    plain = SimVP(**TINY)
    torch.manual_seed(0)
    explicit = SimVP(**TINY, quantiser=None, post_vq=False, input_noise=0.0)
    assert plain.quantiser is None and plain.input_noise is None
    assert count_parameters(plain) == count_parameters(explicit)
    expected, got = plain.state_dict(), explicit.state_dict()
    assert list(expected) == list(got)
    for name, tensor in expected.items():
        assert torch.equal(tensor, got[name]), name
    x = torch.randn(2, 4, 1, 8, 8)
    assert torch.equal(plain(x, None, 4), explicit(x, None, 4))
    assert plain.aux_losses == {}


def test_svq_adds_exactly_its_parameters() -> None:
    plain = SimVP(**TINY)
    with_svq = SimVP(**TINY, quantiser=SVQ_CFG)
    alone = SVQ(8, 50, 16)
    assert count_parameters(with_svq) == count_parameters(plain) + count_parameters(alone)
    frozen = SimVP(**TINY, quantiser={**SVQ_CFG, "freeze_codebook": True})
    assert count_parameters(frozen) == count_parameters(with_svq) - 50 * 8


@pytest.mark.parametrize("post_vq", [False, True])
def test_quantiser_placement_and_unquantised_skip(post_vq: bool) -> None:
    torch.manual_seed(1)
    model = SimVP(**TINY, quantiser=SVQ_CFG, post_vq=post_vq).eval()
    seen: dict[str, torch.Tensor] = {}
    _capture(model.encoder, seen, "encoder")
    _capture(model.quantiser, seen, "quantiser")
    _capture(model.translator, seen, "translator")
    decoder_args: dict[str, torch.Tensor] = {}

    def decoder_hook(_m: torch.nn.Module, args: tuple) -> None:
        decoder_args["z"], decoder_args["skip"] = args[0].detach(), args[1].detach()

    model.decoder.register_forward_pre_hook(decoder_hook)
    x = torch.randn(2, 4, 1, 8, 8)
    model(x, None, 4)
    latent, skip = model.encoder(x.reshape(8, 1, 8, 8))
    assert torch.equal(decoder_args["skip"], skip)  # the skip is never quantised
    b, t, hid = 2, 4, 8
    if post_vq:
        assert torch.equal(seen["translator_in"], latent.reshape(b, t * hid, 4, 4))
        assert torch.equal(seen["quantiser_in"], seen["translator_out"].reshape(b * t, hid, 4, 4))
        assert torch.equal(decoder_args["z"], seen["quantiser_out"])
    else:
        assert torch.equal(seen["quantiser_in"], latent)
        assert torch.equal(seen["translator_in"], seen["quantiser_out"].reshape(b, t * hid, 4, 4))
        assert torch.equal(decoder_args["z"], seen["translator_out"].reshape(b * t, hid, 4, 4))


def test_svq_model_trains_and_has_no_aux_loss() -> None:
    torch.manual_seed(2)
    model = SimVP(**TINY, quantiser={**SVQ_CFG, "freeze_codebook": True}).train()
    x = torch.randn(2, 4, 1, 8, 8)
    before = model.quantiser.codebook.clone()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss = (model(x, None, 4) - x).abs().mean()
    loss.backward()
    optimiser.step()
    assert torch.isfinite(loss) and model.aux_losses == {}
    assert torch.equal(model.quantiser.codebook, before)
    assert model.quantiser.projection[0].weight.grad is not None


class _ConstantLossQuantiser(torch.nn.Module):
    """Test double: identity on the latent with a known ``loss_vq`` per call."""

    def __init__(self, values: list[float]) -> None:
        super().__init__()
        self.values = values
        self.calls = 0

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        value = self.values[self.calls % len(self.values)]
        self.calls += 1
        return z, {"loss_vq": torch.tensor(value)}


def test_loss_vq_is_averaged_over_chained_blocks() -> None:
    model = SimVP(**TINY)
    model.quantiser = _ConstantLossQuantiser([1.0, 4.0])
    model(torch.randn(1, 4, 1, 8, 8), None, 7)  # two chained blocks
    assert model.aux_losses["loss_vq"].item() == pytest.approx(2.5)


def test_loss_vq_reaches_the_training_loss_through_the_forecaster() -> None:
    meta = {
        "t_in": 4,
        "t_out": 4,
        "target_channels": 1,
        "forcing_channels": 0,
        "static_channels": 0,
        "height": 8,
        "width": 8,
    }
    backbone = {
        "name": "simvp",
        **{k: v for k, v in TINY.items() if k not in ("in_shape", "out_channels", "t_out")},
    }
    model = Forecaster({"backbone": backbone}, meta).train()
    model.backbone.quantiser = _ConstantLossQuantiser([0.75])
    targets = torch.randn(2, 4, 1, 8, 8)
    batch = {
        "inputs": torch.randn(2, 4, 1, 8, 8),
        "targets": targets,
        "target_mask": torch.ones(2, 4, 1, 8, 8, dtype=torch.bool),
    }
    output = model(batch)
    loss, parts = total_loss(output, batch)
    mse = float(((output["pred"].detach() - targets) ** 2).mean())
    assert parts["loss_vq"] == pytest.approx(0.75)
    assert float(loss.detach()) == pytest.approx(mse + 0.75, rel=1e-5)


def test_bad_quantiser_settings_are_named() -> None:
    with pytest.raises(ValueError, match="quantiser must be a mapping"):
        SimVP(**TINY, quantiser="svq")
    with pytest.raises(ValueError, match="quantiser.dim"):
        SimVP(**TINY, quantiser={**SVQ_CFG, "dim": 8})
    with pytest.raises(KeyError, match="unknown quantiser"):
        SimVP(**TINY, quantiser={"name": "svqq"})


def test_input_noise_only_in_training() -> None:
    torch.manual_seed(3)
    noisy = SimVP(**TINY, input_noise=0.3)
    torch.manual_seed(3)
    clean = SimVP(**TINY)
    x = torch.randn(2, 4, 1, 8, 8)
    assert torch.equal(noisy.eval()(x, None, 4), clean.eval()(x, None, 4))
    assert not torch.equal(noisy.train()(x, None, 4), clean.train()(x, None, 4))
