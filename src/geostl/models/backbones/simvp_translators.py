"""SimVP translators: the temporal module between encoder and decoder.

A translator maps (B, T·hid_S, h, w) → (B, T·hid_S, h, w), the T frames' latent channels
stacked. Two kinds, chosen by ``model_type`` (case-insensitive):

- ``"incepu"``: SimVP v1's inception U-Net (OpenSTL ``MidIncepNet``), :class:`IncepUTranslator`;
- any name in :data:`~.simvp_blocks.TRANSLATOR_BLOCKS` (``"gsta"``, ...): a stack of N_T such
  blocks (OpenSTL ``MidMetaNet``), :class:`MetaTranslator`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geostl._keys import did_you_mean
from geostl.models.backbones.simvp_blocks import TRANSLATOR_BLOCKS
from geostl.models.blocks.base import BlockArgs

WHOLE_TRANSLATORS = ("incepu",)


class MetaBlock(nn.Module):
    """A translator block on ``in_channels``, then a 1×1 conv to ``out_channels`` if different."""

    def __init__(self, block: nn.Module, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.block = block
        self.reduction = (
            nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.block(x)
        return z if self.reduction is None else self.reduction(z)


class MetaTranslator(nn.Module):
    """N_T blocks: channel_in → channel_hid, (N_T − 2) × channel_hid, channel_hid → channel_in.

    Layer i's block is ``TRANSLATOR_BLOCKS.get(model_type)(BlockArgs(dims[i], mlp_ratio, drop,
    rate_i, input_resolution, layer_index=i, out_dim=dims[i + 1]))``.

    Stochastic depth follows OpenSTL exactly: layers 0..N_T−2 use
    linspace(0.01, drop_path, N_T)[i] and the last layer uses ``drop_path``. So even with
    drop_path = 0 the first layers drop their branches with probability up to 0.01 in training
    (an OpenSTL quirk kept for fidelity; eval mode is deterministic).
    """

    def __init__(
        self,
        model_type: str,
        channel_in: int,
        channel_hid: int,
        n_layers: int,
        input_resolution: tuple[int, int],
        mlp_ratio: float = 8.0,
        drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        if n_layers < 2:
            raise ValueError(f"simvp: N_T must be >= 2, got {n_layers}")
        block_cls = TRANSLATOR_BLOCKS.get(model_type)
        rates = torch.linspace(1e-2, drop_path, n_layers).tolist()
        rates[-1] = drop_path
        dims = [channel_in] + [channel_hid] * (n_layers - 1) + [channel_in]
        self.layers = nn.Sequential(
            *(
                MetaBlock(
                    block_cls(
                        BlockArgs(
                            dims[i],
                            mlp_ratio=mlp_ratio,
                            drop=drop,
                            drop_path=rates[i],
                            input_resolution=input_resolution,
                            layer_index=i,
                            out_dim=dims[i + 1],
                        )
                    ),
                    dims[i],
                    dims[i + 1],
                )
                for i in range(n_layers)
            )
        )

        self.channels_last = bool(getattr(block_cls, "channels_last", False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, channel_in, h, w) → (B, channel_in, h, w), contiguous.

        Blocks whose class sets ``channels_last = True`` (the convolutional ones, where it
        measured faster: ``docs/benchmarks.md``) run on a channels-last copy of ``x``: the same
        values in NHWC memory, where oneDNN's depth-wise and 1×1 convolutions are fastest.
        """
        if not self.channels_last:
            return self.layers(x)
        return self.layers(x.contiguous(memory_format=torch.channels_last)).contiguous()


class GroupConv2d(nn.Module):
    """k×k grouped conv → GroupNorm(groups) → LeakyReLU(0.2); groups fall back to 1 if needed."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, groups: int) -> None:
        super().__init__()
        if in_channels % groups:
            groups = 1
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2, groups=groups
        )
        self.norm = nn.GroupNorm(groups, out_channels)
        self.activate = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.norm(self.conv(x)))


class InceptionBlock(nn.Module):
    """gInception_ST: 1×1 conv to ``c_hid``, then the sum of grouped convs of several kernels."""

    def __init__(
        self, c_in: int, c_hid: int, c_out: int, kernels: Sequence[int], groups: int
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_hid, 1)
        self.layers = nn.ModuleList(GroupConv2d(c_hid, c_out, k, groups) for k in kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        y = self.layers[0](x)
        for layer in self.layers[1:]:
            y = y + layer(x)
        return y


class IncepUTranslator(nn.Module):
    """SimVP v1's inception U-Net over N_T encoder and N_T decoder inception blocks.

    Encoder: channel_in → hid, then hid → hid; the first N_T − 1 encoder outputs are skips.
    Decoder: hid → hid, then cat(z, skip) (2·hid) → hid, the last one → channel_in.
    Inception blocks use hidden width hid/2, kernels (3, 5, 7, 11) and 8 groups by default.
    """

    def __init__(
        self,
        channel_in: int,
        channel_hid: int,
        n_layers: int,
        kernels: Sequence[int] = (3, 5, 7, 11),
        groups: int = 8,
    ) -> None:
        super().__init__()
        if n_layers < 2:
            raise ValueError(f"simvp: N_T must be >= 2 for IncepU, got {n_layers}")
        half = channel_hid // 2
        self.enc = nn.ModuleList(
            InceptionBlock(
                channel_in if i == 0 else channel_hid, half, channel_hid, kernels, groups
            )
            for i in range(n_layers)
        )
        self.dec = nn.ModuleList(
            InceptionBlock(
                channel_hid if i == 0 else 2 * channel_hid,
                half,
                channel_in if i == n_layers - 1 else channel_hid,
                kernels,
                groups,
            )
            for i in range(n_layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, channel_in, h, w) → (B, channel_in, h, w)."""
        skips = []
        z = x
        for i, layer in enumerate(self.enc):
            z = layer(z)
            if i < len(self.enc) - 1:
                skips.append(z)
        z = self.dec[0](z)
        for i in range(1, len(self.dec)):
            z = self.dec[i](torch.cat([z, skips[-i]], dim=1))
        return z


def translator_names() -> list[str]:
    """Every accepted ``model_type``."""
    return sorted(set(WHOLE_TRANSLATORS) | set(TRANSLATOR_BLOCKS.available()))


def build_translator(
    model_type: str,
    channel_in: int,
    channel_hid: int,
    n_layers: int,
    input_resolution: tuple[int, int],
    mlp_ratio: float,
    drop: float,
    drop_path: float,
) -> nn.Module:
    """The translator for ``model_type`` (case-insensitive); unknown names list the choices."""
    key = str(model_type).lower()
    if key == "incepu":
        return IncepUTranslator(channel_in, channel_hid, n_layers)
    if key not in TRANSLATOR_BLOCKS:
        hint = did_you_mean(key, translator_names())
        hint = f" D{hint[1:]}" if hint else ""
        raise KeyError(
            f"simvp: unknown model_type {model_type!r}.{hint} "
            f"Available: {', '.join(translator_names())}"
        )
    return MetaTranslator(
        key, channel_in, channel_hid, n_layers, input_resolution, mlp_ratio, drop, drop_path
    )
