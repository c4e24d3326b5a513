"""The one recurrent rollout: frame feeding, (reverse) scheduled sampling, patching, fusion hook.

:class:`RecurrentRollout` owns the loop of every recurrent backbone (ConvLSTM, the PredRNN
family, MIM, E3D-LSTM, MAU, CrevNet, PhyDNet, PredNet, FC-LSTM/GRU). A backbone supplies only its
cell step and state:

- ``init_state(batch, frames) -> state`` (``frames`` (B, T_in, C_f, h, w), the rollout's frames);
- ``step(net, state) -> (top, state)`` on the fed frame ``net`` (B, frame_channels, h, w);
- ``predict(top) -> (B, p²·C_out, h, w)``, its forecast of the next frame (default
  ``self.readout(top)``);
- optional ``start_rollout()`` / ``finish_rollout(pred, truth) -> aux_losses`` hooks.

With ``frame_patch`` p > 1 frames are space-to-depth patched, (B, T, C, H, W) →
(B, T, p²·C, H/p, W/p) (:mod:`geostl.models.patching`); p = 1 feeds the frames as given. The
rollout runs T_in + t_out − 1 steps, as OpenSTL's models do; the output of step T_in − 1 + k is
future frame k. :class:`PatchedRecurrentBackbone` adds the PredRNN family's checks and the
bias-free 1×1 ``readout`` (top hidden state → p²·C_out target channels).

Frame fed at step t (targets first, then the auxiliary channels, re-interleaved per sub-pixel):

- t < T_in: input frame t as given. With reverse scheduled sampling (``teacher_forcing`` a
  ``(warmup, future)`` pair with warmup < 1, backbones with ``reverse_sampling = True``: the
  PredRNN family and ConvLSTM; the others use only ``future``) steps 1 … T_in − 1 feed, per
  sample with probability 1 − warmup, the model's own reconstruction of frame t (the
  :meth:`~RecurrentRollout.predict` of step t − 1) with the given auxiliary channels of frame t;
- t ≥ T_in (future frame k = t − T_in): the model's previous output, or in training the true
  frame with probability ``future`` (per sample, per step), with ``future_aux[k]``.

With ``truth=None`` and no pair the rollout is closed-loop on the model's output, for any
t_out; warm-up always reads the given input frames then.

Fusion hook: with a ``frame_transform`` (a :data:`geostl.models.fusion.FrameTransform`
factory, passed by the Forecaster for ``fusion: mixer``) the rollout builds its module once, in
the patched layout, and applies it to every fed frame, whichever of the above it is, before
:meth:`step`; the first layer then reads ``frame_transform.out_channels`` channels (the Channel
Mixer Layer: p²·(C_out + C_in), the bypass then the mixed frame). Backbones never apply it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from geostl.models.backbones._contract import (
    check_construction,
    check_forward,
    teacher_forcing_pair,
)
from geostl.models.patching import merge_patched_channels, patch, split_patched_channels, unpatch


def _blend(true: torch.Tensor, own: torch.Tensor, prob: float) -> torch.Tensor:
    """Per sample: ``true`` with probability ``prob``, else ``own`` (B, C, h, w)."""
    if prob >= 1.0:
        return true
    if prob <= 0.0:
        return own
    use = torch.rand(true.shape[0], device=true.device) < prob
    return torch.where(use[:, None, None, None], true, own)


class RecurrentRollout(nn.Module):
    """Base of every recurrent backbone: the loop of the module docstring.

    A subclass sets, in its constructor, ``backbone_name`` (for error messages), ``t_in``,
    ``h``, ``w``, ``out_channels``, ``aux_channels`` and, when it feeds patched frames,
    ``frame_patch`` (default 1); it implements :meth:`init_state`, :meth:`step` and, unless its
    ``readout`` maps the top state to the next frame, :meth:`predict`. Class attribute
    ``reverse_sampling``: whether warm-up steps may feed the model's own reconstruction
    (``teacher_forcing=(warmup, future)``); when False only ``future`` is used.

    The fusion hook: :meth:`build_frame_transform` builds the fusion's per-frame module
    (:data:`geostl.models.fusion.FrameTransform`) in the rollout's layout; :meth:`forward`
    applies it to every fed frame.
    """

    backbone_name = "recurrent"
    frame_patch = 1
    reverse_sampling = False

    def __init__(self) -> None:
        super().__init__()
        self.frame_transform: nn.Module | None = None
        self.aux_losses: dict[str, torch.Tensor] = {}

    def build_frame_transform(self, factory: Any, c_in: int) -> int:
        """Build the fusion hook's module from ``factory`` (or none when None), in the patched
        layout when ``frame_patch`` > 1, else the raster one; returns the channels of the frame
        :meth:`step` then receives (p²·C_in without a hook)."""
        p = self.frame_patch
        if factory is None:
            self.frame_transform = None
            return p * p * c_in
        layout = "patched" if p > 1 else "raster"
        where = f"backbone {self.backbone_name!r}"
        self.frame_transform = factory(c_in, self.out_channels, layout, p, where)
        return int(self.frame_transform.out_channels)

    # hooks -------------------------------------------------------------------------------------
    def init_state(self, batch: int, ref: torch.Tensor) -> Any:
        """Zero recurrent state for ``batch`` samples; ``ref`` is the rollout's input frames
        (B, T_in, p²·C_in, H/p, W/p) (dtype, device and, where a backbone needs it, values)."""
        raise NotImplementedError

    def step(self, net: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """One step on the fed frame (B, frame_channels, H/p, W/p) → (top state, new state)."""
        raise NotImplementedError

    def predict(self, top: torch.Tensor) -> torch.Tensor:
        """The forecast of the next frame from :meth:`step`'s top state:
        (B, p²·C_out, H/p, W/p); default ``self.readout(top)``."""
        return self.readout(top)

    def start_rollout(self) -> None:
        """Called before the first step of every forward."""

    def finish_rollout(
        self, pred: torch.Tensor, truth: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """Called after the last step with the forecast (B, t_out, C_out, H, W) and the truth
        given to forward; returns the auxiliary losses of this forward."""
        return {}

    # forward -----------------------------------------------------------------------------------
    def forward(
        self,
        x: torch.Tensor,
        future_aux: torch.Tensor | None,
        t_out: int,
        truth: torch.Tensor | None = None,
        teacher_forcing: float | Sequence[float] | None = None,
    ) -> torch.Tensor:
        """Roll out ``t_out`` frames: (B, T_in, C_in, H, W) → (B, t_out, C_out, H, W)."""
        self.aux_losses = {}
        check_forward(
            self.backbone_name,
            x,
            future_aux,
            t_out,
            truth,
            teacher_forcing,
            t_in=self.t_in,
            c_out=self.out_channels,
            aux=self.aux_channels,
            hw=(self.h, self.w),
        )
        warmup, future = teacher_forcing_pair(self.backbone_name, teacher_forcing)
        if not self.reverse_sampling:
            warmup = 1.0
        p = self.frame_patch
        frames = patch(x, p)
        in_aux = None
        if self.aux_channels:
            in_aux = split_patched_channels(frames, p, self.out_channels)[1]
        aux = patch(future_aux, p) if self.aux_channels else None
        forced = patch(truth, p) if truth is not None and future > 0.0 else None
        feedback = warmup < 1.0
        state = self.init_state(frames.shape[0], frames)
        self.start_rollout()
        outputs: list[torch.Tensor] = []
        generated: torch.Tensor | None = None
        for t in range(self.t_in + t_out - 1):
            if t < self.t_in:
                net = frames[:, t]
                if t > 0 and feedback:
                    own = generated
                    if in_aux is not None:
                        own = merge_patched_channels(generated, in_aux[:, t], p)
                    net = _blend(net, own, warmup)
            else:
                k = t - self.t_in  # the future frame fed in at this step
                target = generated if forced is None else _blend(forced[:, k], generated, future)
                net = merge_patched_channels(target, aux[:, k], p) if aux is not None else target
            if self.frame_transform is not None:
                net = self.frame_transform(net)
            top, state = self.step(net, state)
            if feedback or t >= self.t_in - 1:
                generated = self.predict(top)
                if t >= self.t_in - 1:
                    outputs.append(generated)
        pred = unpatch(torch.stack(outputs, dim=1), p)
        self.aux_losses = self.finish_rollout(pred, truth)
        return pred


class PatchedRecurrentBackbone(RecurrentRollout):
    """Base of the PredRNN-family backbones (the backbone contract, see ``_contract``).

    Subclasses build their cells and call :meth:`build_readout`, then implement
    :meth:`init_state` and :meth:`step` (the hooks of :class:`RecurrentRollout`, whose loop they
    inherit, with reverse scheduled sampling), and may override :meth:`start_rollout` /
    :meth:`finish_rollout` (auxiliary losses).

    Args:
        name: the registered name (for error messages).
        in_shape, out_channels, t_out, aux_channels: the contract's arguments.
        num_hidden: hidden channels per layer; all equal (the spatiotemporal memory passes
            from layer to layer).
        filter_size: odd gate-convolution kernel size.
        stride: must be 1 (OpenSTL's argument).
        patch_size: space-to-depth factor p dividing H and W.
        min_layers: the fewest layers the architecture needs.
        frame_transform: the fusion's per-frame hook factory, or None (see module docstring);
            ``frame_channels`` is then its module's ``out_channels``.
        equal_hidden: require the same hidden size in every layer (the PredRNN family, whose
            spatiotemporal memory flows through all layers); False for ConvLSTM.

    Attributes:
        frame_channels: channels of the frame :meth:`step` receives (p²·C_in, or the
            ``frame_transform`` module's ``out_channels``).
        frame_transform: the per-frame fusion module applied by the rollout, or None.
    """

    reverse_sampling = True

    def __init__(
        self,
        name: str,
        in_shape: Sequence[int],
        out_channels: int,
        t_out: int,
        aux_channels: int,
        num_hidden: Sequence[int],
        filter_size: int,
        stride: int,
        patch_size: int,
        min_layers: int = 1,
        frame_transform: Any = None,
        equal_hidden: bool = True,
    ) -> None:
        super().__init__()
        self.backbone_name = name
        t_in, c_in, h, w = check_construction(name, in_shape, out_channels, t_out, aux_channels)
        hidden = [int(n) for n in num_hidden]
        if len(hidden) < min_layers or any(n < 1 for n in hidden):
            raise ValueError(
                f"{name}: num_hidden must list at least {min_layers} positive int(s), "
                f"got {num_hidden!r}"
            )
        if equal_hidden and len(set(hidden)) != 1:
            raise ValueError(
                f"{name}: num_hidden must be equal for every layer (the spatiotemporal memory "
                f"flows through all layers), got {num_hidden!r}"
            )
        if not isinstance(filter_size, int) or filter_size < 1 or filter_size % 2 == 0:
            raise ValueError(f"{name}: filter_size must be a positive odd int, got {filter_size!r}")
        if stride != 1:
            raise ValueError(
                f"{name}: stride must be 1, got {stride!r} (a strided gate convolution would "
                "shrink the hidden state between steps)"
            )
        if not isinstance(patch_size, int) or patch_size < 1 or h % patch_size or w % patch_size:
            raise ValueError(
                f"{name}: patch_size={patch_size!r} must be a positive int dividing H={h} and "
                f"W={w} (pad the grid with data.padding.multiple or pick another patch_size)"
            )
        self.t_in, self.h, self.w = t_in, h, w
        self.out_channels, self.aux_channels, self.t_out = out_channels, aux_channels, t_out
        self.patch_size = self.frame_patch = patch_size
        self.num_hidden = hidden
        self.hp, self.wp = h // patch_size, w // patch_size
        self.frame_channels = self.build_frame_transform(frame_transform, c_in)

    def build_readout(self) -> None:
        """The bias-free 1×1 output layer ``readout``: top hidden → p²·C_out channels."""
        p = self.patch_size
        self.readout = nn.Conv2d(self.num_hidden[-1], p * p * self.out_channels, 1, bias=False)
