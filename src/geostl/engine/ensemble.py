"""Ensemble members of any Forecaster, for probabilistic evaluation (``eval.ensemble_*``).

Three ways to make M members of one batch, each a forward pass of a Forecaster:

- ``perturb``: the model from perturbed initial states, Gaussian noise of standard deviation
  ``ensemble_perturb_std`` (normalised units, i.e. a fraction of each target channel's
  normalisation scale) added to every valid value of the input maps;
- ``mc_dropout``: the model with its dropout and stochastic-depth layers left on at test time
  (Gal & Ghahramani 2016); a model without any such layer of p > 0 is refused;
- ``checkpoints``: the model and the models of ``ensemble_checkpoints`` (independent training
  runs, e.g. other ``train.seed``), which must share the model's data layout and normaliser.

The noise of member k of window i is drawn from a generator seeded by (seed, i, k), so a
perturbed ensemble does not depend on the batch size or on how windows are sharded over
processes. Dropout masks are drawn from the global generator seeded per (seed, first window of
the batch, member) and do depend on the batch's composition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from geostl.models.blocks.drop_path import DropPath

__all__ = ["EnsembleMembers", "dropout_layers"]

_DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, DropPath)


def dropout_layers(model: nn.Module) -> list[nn.Module]:
    """The model's dropout and stochastic-depth layers with a drop probability > 0."""
    return [m for m in model.modules() if isinstance(m, _DROPOUT_TYPES) and float(m.p) > 0.0]


@contextmanager
def _dropout_on(layers: Sequence[nn.Module]):
    before = [m.training for m in layers]
    try:
        for m in layers:
            m.train(True)
        yield
    finally:
        for m, was in zip(layers, before, strict=True):
            m.train(was)


def _seed(*parts: int) -> int:
    """A 63-bit seed from integers (splitmix64-style mixing; deterministic)."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = (h ^ (int(p) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


class EnsembleMembers:
    """Make the M members of a batch from a model.

    Args:
        model: the evaluated Forecaster (in eval mode while members are made).
        method: ``perturb``, ``mc_dropout`` or ``checkpoints``.
        members: M >= 1.
        perturb_std: noise standard deviation of ``perturb`` (normalised units).
        checkpoints: the other members' checkpoint files of ``checkpoints`` (M - 1 of them).
        seed: seed of the noise and dropout masks.
        normaliser_state: the evaluated model's normaliser state; every member checkpoint must
            hold the same (its forecasts are de-normalised with it).
        device: where the members run.
    """

    def __init__(
        self,
        model: nn.Module,
        method: str,
        members: int,
        perturb_std: float = 0.01,
        checkpoints: Sequence[str] = (),
        seed: int = 0,
        normaliser_state: Mapping[str, Any] | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        if members < 1:
            raise ValueError(f"eval.ensemble_members: expected at least 1 member, got {members}")
        self.model, self.method, self.members = model, method, int(members)
        self.perturb_std, self.seed = float(perturb_std), int(seed)
        self.device = torch.device(device) if device is not None else None
        self.others: list[nn.Module] = []
        if method == "mc_dropout":
            self.layers = dropout_layers(model)
            if not self.layers:
                raise ValueError(
                    "eval.ensemble_method mc_dropout: the model has no dropout or stochastic-"
                    "depth layer with p > 0 (train one with dropout, e.g. a SimVP translator's "
                    "drop / drop_path, or choose perturb or checkpoints)"
                )
        elif method == "checkpoints":
            if len(checkpoints) != members - 1:
                raise ValueError(
                    f"eval.ensemble_checkpoints: {members} members need {members - 1} other "
                    f"checkpoints besides the model, got {len(checkpoints)}"
                )
            self.others = [self._load(p, normaliser_state) for p in checkpoints]
        elif method != "perturb":
            raise ValueError(
                f"eval.ensemble_method: expected perturb, mc_dropout or checkpoints, got {method!r}"
            )

    def _load(self, path: str, normaliser_state: Mapping[str, Any] | None) -> nn.Module:
        from geostl.engine.checkpoint import build_model_from_checkpoint, load_checkpoint

        ckpt = load_checkpoint(path)
        other = build_model_from_checkpoint(ckpt)
        mine = getattr(self.model, "constructor_args", None)
        theirs = getattr(other, "constructor_args", None)
        if mine is None or theirs is None or mine()[1] != theirs()[1]:
            raise ValueError(
                f"eval.ensemble_checkpoints: {path} was trained on another data layout (its "
                "meta: channels, grid, t_in, t_out) than the evaluated model"
            )
        theirs_norm = (ckpt.get("data") or {}).get("normaliser") or {}
        if normaliser_state is not None and theirs_norm.get("channels") != dict(
            normaliser_state
        ).get("channels"):
            raise ValueError(
                f"eval.ensemble_checkpoints: {path} has another normaliser than the evaluated "
                "model (train it on the same train split and normalisation)"
            )
        device = self.device or next(self.model.parameters()).device
        return other.to(device).eval()

    def __call__(
        self,
        batch: Mapping[str, torch.Tensor],
        forward: Callable[[nn.Module, dict], torch.Tensor],
        model_pred: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(M, B, T_out, C, H, W) normalised member forecasts of ``batch`` (on the model's
        device); ``forward(model, batch) -> pred`` runs one model on one batch.
        ``model_pred``: the model's own forecast of ``batch`` when the caller has it already;
        member 0 of ``checkpoints`` is then that forecast, not a second pass."""
        out = []
        for k in range(self.members):
            if self.method == "perturb":
                out.append(forward(self.model, self._perturbed(batch, k)))
            elif self.method == "mc_dropout":
                first = int(batch["index"].reshape(-1)[0])
                with torch.random.fork_rng(devices=[]), _dropout_on(self.layers):
                    torch.manual_seed(_seed(self.seed, first, k))
                    out.append(forward(self.model, dict(batch)))
            else:
                if k == 0 and model_pred is not None:
                    out.append(model_pred)
                    continue
                model = self.model if k == 0 else self.others[k - 1]
                out.append(forward(model, dict(batch)))
        return torch.stack(out)

    def _perturbed(self, batch: Mapping[str, torch.Tensor], k: int) -> dict:
        x = batch["inputs"]
        noise = torch.empty(x.shape, dtype=torch.float32)
        for b, i in enumerate(batch["index"].reshape(-1).tolist()):
            g = torch.Generator().manual_seed(_seed(self.seed, i, k))
            noise[b] = torch.randn(x.shape[1:], generator=g)
        noise = noise.to(device=x.device, dtype=x.dtype) * self.perturb_std
        mask = batch.get("input_mask")
        if mask is not None:
            noise = noise * mask.to(noise.device, noise.dtype)
        return {**batch, "inputs": x + noise}
