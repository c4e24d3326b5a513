"""Fusions: how a sample's targets, forcings and static planes become the backbone's input.

A fusion is built as ``Fusion(target_channels=C, forcing_channels=F, static_channels=S)``,
exposes ``aux_channels`` (A, the channels it appends after the C targets) and is called as
``fusion(batch, t_out) -> (x, future_aux)`` with

- ``x`` (B, T_in, C + A, H, W): the target channels first, then the auxiliary channels;
- ``future_aux`` (B, t_out, A, H, W), or None when A == 0.

Batch keys read: ``inputs`` (B, T_in, C, H, W), ``forcings_in`` (B, T_in, F, H, W),
``forcings_out`` (B, t_out, F, H, W) (or the scalar series and planes a WindowDataset gives,
put together here on the model's device by :func:`geostl.data.windows.forcing_frames`),
``static`` (B, S, H, W). Forcings are used exactly as
the dataset provides them (it already applies the future-forcing policy).

A fusion may also ask the backbone to handle the channels in its own way: ``backbone_options``
(a dict, empty for ``concat`` and ``none``) is passed to the backbone constructor by the
Forecaster. Both give the same ``x`` and ``future_aux`` as ``concat``:

- ``mixer`` passes ``frame_transform=mixer_frame_transform``, a per-frame hook: a
  :data:`FrameTransform` factory the backbone calls once with its channel counts and frame
  layout; the module it returns (the parameter-free Channel Mixer Layer,
  :mod:`geostl.models.channel_mixer`) is applied by the backbone's rollout to every frame it
  feeds, so backbones know nothing of the mixer;
- ``action`` sets ``action_channels=True`` (the auxiliary channels modulate the recurrent gates
  instead of being frame inputs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from geostl.data.windows import forcing_frames
from geostl.models.channel_mixer import ChannelMixer, mixer_cell_size
from geostl.models.registry import FUSIONS

BACKBONE_OPTION_KEYS = ("frame_transform", "action_channels")

#: A per-frame fusion hook: ``factory(in_channels, target_channels, layout, patch_size, where)``
#: returns a module mapping a frame (B, [T,] in_channels·p², h, w) of ``layout`` ("raster" or
#: "patched" with factor p) to (B, [T,] out_channels, h, w) and exposing ``out_channels`` (the
#: channels the backbone's first layer then reads); ``where`` names the backbone for errors
#: (``"backbone 'convlstm'"``).
FrameTransform = Callable[[int, int, str, int, str], nn.Module]


def mixer_frame_transform(
    in_channels: int, target_channels: int, layout: str, patch_size: int, where: str
) -> ChannelMixer:
    """The ``mixer`` fusion's :data:`FrameTransform`: cat[bypass, Mix(frame)] in ``layout``
    (:class:`geostl.models.channel_mixer.ChannelMixer`; out_channels = p²·(C_out + C_in))."""
    return ChannelMixer(
        in_channels, target_channels, layout, patch_size, f"fusion 'mixer' ({where})"
    )


def _get(batch: Mapping[str, torch.Tensor], key: str, fusion: str) -> torch.Tensor:
    if key not in batch:
        raise KeyError(
            f"fusion {fusion!r} needs batch[{key!r}], which is missing (keys: {sorted(batch)})"
        )
    return batch[key]


def _expect(t: torch.Tensor, shape: tuple[int, ...], what: str) -> None:
    if tuple(t.shape) != shape:
        raise ValueError(f"{what} must have shape {shape}, got {tuple(t.shape)}")


class _FusionBase(nn.Module):
    name = "?"
    #: keyword arguments the Forecaster passes to the backbone constructor
    backbone_options: dict[str, object] = {}

    def __init__(
        self, target_channels: int, forcing_channels: int = 0, static_channels: int = 0
    ) -> None:
        super().__init__()
        for key, value, low in (
            ("target_channels", target_channels, 1),
            ("forcing_channels", forcing_channels, 0),
            ("static_channels", static_channels, 0),
        ):
            if not isinstance(value, int) or value < low:
                raise ValueError(
                    f"fusion {self.name!r}: {key} must be an int >= {low}, got {value!r}"
                )
        self.target_channels = target_channels
        self.forcing_channels = forcing_channels
        self.static_channels = static_channels

    def extra_repr(self) -> str:
        return (
            f"target_channels={self.target_channels}, forcing_channels={self.forcing_channels}, "
            f"static_channels={self.static_channels}"
        )

    def _inputs(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        x = _get(batch, "inputs", self.name)
        if x.dim() != 5 or x.shape[2] != self.target_channels:
            raise ValueError(
                f"batch['inputs'] must be (B, T_in, {self.target_channels}, H, W), "
                f"got {tuple(x.shape)}"
            )
        return x


@FUSIONS.register("concat")
class ConcatFusion(_FusionBase):
    """Targets, then forcings, then static planes (repeated over time), on the channel axis.

    A = F + S. Future frames get the forcings_out frames and the same static planes.
    """

    name = "concat"

    @property
    def aux_channels(self) -> int:
        return self.forcing_channels + self.static_channels

    def forward(
        self, batch: Mapping[str, torch.Tensor], t_out: int
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self._inputs(batch)
        b, t_in, _, h, w = x.shape
        past: list[torch.Tensor] = [x]
        future: list[torch.Tensor] = []
        if self.forcing_channels:
            f_in = forcing_frames(batch, "in")
            f_out = forcing_frames(batch, "out")
            if f_in is None:  # neither layout: the missing-key error
                f_in = _get(batch, "forcings_in", self.name)
            if f_out is None:
                f_out = _get(batch, "forcings_out", self.name)
            _expect(f_in, (b, t_in, self.forcing_channels, h, w), "batch['forcings_in']")
            _expect(f_out, (b, t_out, self.forcing_channels, h, w), "batch['forcings_out']")
            past.append(f_in.to(x.dtype))
            future.append(f_out.to(x.dtype))
        if self.static_channels:
            st = _get(batch, "static", self.name)
            _expect(st, (b, self.static_channels, h, w), "batch['static']")
            st = st.to(x.dtype)[:, None]
            past.append(st.expand(b, t_in, -1, h, w))
            future.append(st.expand(b, t_out, -1, h, w))
        if not future:
            return x, None
        return torch.cat(past, dim=2), torch.cat(future, dim=2)


@FUSIONS.register("none")
class TargetOnlyFusion(_FusionBase):
    """The targets alone (the seed's "1-channel" baseline): forcings and static planes unused.

    A = 0 whatever the dataset provides; choosing it in the config is the explicit opt-out.
    """

    name = "none"

    @property
    def aux_channels(self) -> int:
        return 0

    def forward(
        self, batch: Mapping[str, torch.Tensor], t_out: int
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self._inputs(batch), None


@FUSIONS.register("mixer")
class MixerFusion(ConcatFusion):
    """Channel Mixer Layer (Liu et al. 2024): input as ``concat``; the backbone mixes every frame.

    The backbone (built with ``frame_transform=mixer_frame_transform``) feeds cat[target
    channels (bypass), Mix(frame)] to its first layer, in its own layout (raster for SimVP/TAU,
    patched for the recurrent backbones; :mod:`geostl.models.channel_mixer`). C + A must be a
    square k² >= 4.
    """

    name = "mixer"
    backbone_options = {"frame_transform": mixer_frame_transform}

    def __init__(
        self, target_channels: int, forcing_channels: int = 0, static_channels: int = 0
    ) -> None:
        super().__init__(target_channels, forcing_channels, static_channels)
        total = target_channels + forcing_channels + static_channels
        mixer_cell_size(
            total,
            f"fusion 'mixer' ({target_channels} target + {forcing_channels} forcing + "
            f"{static_channels} static channels)",
        )


@FUSIONS.register("action")
class ActionFusion(ConcatFusion):
    """Action conditioning (Liu et al. 2024 "action" rows, after action-conditioned PredRNN-V2):
    inputs as ``concat``; the backbone (``action_channels=True``: PredRNN, PredRNNv2) reads
    only the target channels as frames and uses the A auxiliary channels of each step as the
    action a_t, multiplying the hidden-state gate pre-activations, conv_h(h) ⊙ conv_a(a)."""

    name = "action"
    backbone_options = {"action_channels": True}

    def __init__(
        self, target_channels: int, forcing_channels: int = 0, static_channels: int = 0
    ) -> None:
        super().__init__(target_channels, forcing_channels, static_channels)
        if forcing_channels + static_channels == 0:
            raise ValueError(
                "fusion 'action' needs at least one auxiliary channel (forcings or static "
                "planes) to condition on; the data have none (use fusion 'none')"
            )
