"""CrevNet's building blocks, laid out as OpenSTL's ``crevnet_modules`` (Yu et al., "Efficient
and Information-Preserving Future Frame Prediction and Beyond", ICLR 2020).

All tensors are 5-D, (B, C, temp, h, w): CrevNet stacks ``temp`` consecutive frames on a
depth axis and convolves them with 3-D kernels.

- :class:`Squeeze`: invertible space-to-depth by ``block`` (C → block²·C, h, w → h/b, w/b);
- :class:`IRevBlock`: an i-RevNet block on a pair (x1, x2) → (x2, F(x2) + squeeze(x1)), with
  F three 3×3×3 convolutions with a normalisation + ReLU between them and, except in the first
  block, before them (OpenSTL's BatchNorm3d by default, or GroupNorm(1)); exactly invertible;
- :class:`InvertibleAutoencoder`: the initial squeeze then a stack of :class:`IRevBlock`;
  ``encode`` and ``decode`` are each other's exact inverse;
- :class:`STConvLSTMCell`: CrevNet's 3-D spatiotemporal LSTM (cell state c, zig-zag memory m);
- :class:`ReversiblePredictor`: ``zig_rev_predictor``: layer i updates its cell from x1, then
  x2 ← (1 − g)·x2 + g·h with g = σ(1×1×1 conv(h)), and the halves swap.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

Pair = tuple[torch.Tensor, torch.Tensor]

ENCODER_NORMS = ("batch", "group")


def encoder_norm_layer(kind: str, channels: int) -> nn.Module:
    """The normalisation inside the i-RevNet blocks, on (B, channels, T, h, w).

    ``"batch"``: ``BatchNorm3d`` (OpenSTL's ``irevnet_block``; in training its statistics
    pool the batch, so a sample's output depends on its batchmates); ``"group"``:
    ``GroupNorm(1, channels)``, per sample. Both have 2·channels affine parameters.
    """
    if kind == "batch":
        return nn.BatchNorm3d(channels)
    if kind == "group":
        return nn.GroupNorm(1, channels)
    raise ValueError(f"crevnet: encoder_norm must be one of {ENCODER_NORMS}, got {kind!r}")


class Squeeze(nn.Module):
    """Invertible space-to-depth on (B, C, T, H, W) → (B, b²·C, T, H/b, W/b)."""

    def __init__(self, block: int) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.block
        if b == 1:
            return x
        n, c, t, h, w = x.shape
        x = x.reshape(n, c, t, h // b, b, w // b, b).permute(0, 4, 6, 1, 2, 3, 5)
        return x.reshape(n, b * b * c, t, h // b, w // b)

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        b = self.block
        if b == 1:
            return x
        n, c, t, h, w = x.shape
        x = x.reshape(n, b, b, c // (b * b), t, h, w).permute(0, 3, 4, 5, 1, 6, 2)
        return x.reshape(n, c // (b * b), t, h * b, w * b)


class IRevBlock(nn.Module):
    """i-RevNet block: (x1, x2) of ``in_ch / 2`` channels each → (squeeze(x2), F(x2) + squeeze(x1))
    of ``out_ch`` channels each (OpenSTL's ``irevnet_block``; stride 2 squeezes by 2).

    A stride-1 block with ``2·out_ch != in_ch`` would need OpenSTL's injective zero padding,
    which the default layouts never use; it is refused. ``norm`` is ``"batch"`` or ``"group"``
    (:func:`encoder_norm_layer`). In training, batch statistics stay exactly invertible: the
    inverse recomputes F on the same x2, hence on the same statistics.
    """

    def __init__(
        self, in_ch: int, out_ch: int, stride: int, first: bool, mult: int, norm: str = "batch"
    ) -> None:
        super().__init__()
        if stride == 1 and 2 * out_ch != in_ch:
            raise ValueError(
                f"crevnet: a stride-1 block needs in_ch = 2·out_ch, got {in_ch}, {out_ch}"
            )
        if stride == 2 and 2 * out_ch != 4 * in_ch:
            raise ValueError(
                f"crevnet: a stride-2 block needs out_ch = 2·in_ch, got {in_ch}, {out_ch}"
            )
        mid = out_ch // mult
        if mid < 1:
            raise ValueError(f"crevnet: block width {out_ch} // mult {mult} must be >= 1")
        self.stride = stride
        self.psi = Squeeze(stride)
        layers: list[nn.Module] = []
        if not first:
            layers += [encoder_norm_layer(norm, in_ch // 2), nn.ReLU()]
        layers += [
            nn.Conv3d(in_ch // 2, mid, 3, stride=(1, stride, stride), padding=1, bias=False),
            encoder_norm_layer(norm, mid),
            nn.ReLU(),
            nn.Conv3d(mid, mid, 3, padding=1, bias=False),
            nn.Dropout(0.0),
            encoder_norm_layer(norm, mid),
            nn.ReLU(),
            nn.Conv3d(mid, out_ch, 3, padding=1, bias=False),
        ]
        self.bottleneck_block = nn.Sequential(*layers)

    def forward(self, x: Pair) -> Pair:
        x1, x2 = x
        fx2 = self.bottleneck_block(x2)
        return self.psi(x2), fx2 + self.psi(x1)

    def inverse(self, y: Pair) -> Pair:
        x2s, y1 = y
        x2 = self.psi.inverse(x2s)
        x1 = self.psi.inverse(y1 - self.bottleneck_block(x2))
        return x1, x2


class InvertibleAutoencoder(nn.Module):
    """OpenSTL's ``autoencoder``: (B, C, T, H, W) → pair of (B, L, T, H/s, W/s), s =
    init_ds · 2^(number of stride-2 groups), L = C·init_ds²·4^(stride-2 groups) / 2.

    ``nChannels`` per group is OpenSTL's default [in/2, in/2·4, in/2·16, ...] with in = C·init_ds².
    ``norm``: the blocks' normalisation, ``"batch"`` (OpenSTL) or ``"group"``.
    """

    def __init__(
        self,
        channels: int,
        n_blocks: Sequence[int],
        n_strides: Sequence[int],
        init_ds: int,
        mult: int,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        self.init_psi = Squeeze(init_ds)
        self.in_ch = channels * init_ds * init_ds
        if self.in_ch % 2:
            raise ValueError(
                f"crevnet: C_in·init_ds² = {self.in_ch} must be even (the input is split in halves)"
            )
        widths = [self.in_ch // 2 * 4**i for i in range(len(n_blocks))]
        blocks = []
        in_ch, first = self.in_ch, True
        for width, depth, stride in zip(widths, n_blocks, n_strides, strict=True):
            for j in range(depth):
                blocks.append(IRevBlock(in_ch, width, stride if j == 0 else 1, first, mult, norm))
                in_ch, first = 2 * width, False
        self.stack = nn.ModuleList(blocks)
        self.latent_channels = in_ch // 2

    def encode(self, x: torch.Tensor) -> Pair:
        """(B, C, T, H, W) → (x1, x2), each (B, L, T, h, w)."""
        x = self.init_psi(x)
        n = self.in_ch // 2
        out = (x[:, :n], x[:, n:])
        for block in self.stack:
            out = block(out)
        return out

    def decode(self, h: Pair) -> torch.Tensor:
        """Exact inverse of :meth:`encode`: (x1, x2) → (B, C, T, H, W)."""
        for block in reversed(self.stack):
            h = block.inverse(h)
        return self.init_psi.inverse(torch.cat(h, dim=1))


class STConvLSTMCell(nn.Module):
    """CrevNet's 3-D spatiotemporal LSTM cell (kernel 3×3×3): input (B, n, T, h, w), state
    (hidden, cell) and zig-zag memory of ``n`` channels each."""

    def __init__(self, n: int) -> None:
        super().__init__()

        def conv(c_in: int) -> nn.Conv3d:
            return nn.Conv3d(c_in, n, 3, padding=1)

        self.in_gate, self.remember_gate, self.cell_gate = conv(3 * n), conv(3 * n), conv(3 * n)
        self.in_gate1, self.remember_gate1, self.cell_gate1 = conv(3 * n), conv(3 * n), conv(3 * n)
        self.w1 = nn.Conv3d(2 * n, n, 1)
        self.out_gate = conv(4 * n)

    def forward(
        self, x: torch.Tensor, state: Pair, memo: torch.Tensor
    ) -> tuple[Pair, torch.Tensor]:
        hidden, cell = state
        z = torch.cat((x, cell, hidden), 1)
        cell = torch.sigmoid(self.remember_gate(z)) * cell + torch.sigmoid(
            self.in_gate(z)
        ) * torch.tanh(self.cell_gate(z))
        z1 = torch.cat((x, memo, cell), 1)
        memo = torch.sigmoid(self.remember_gate1(z1)) * memo + torch.sigmoid(
            self.in_gate1(z1)
        ) * torch.tanh(self.cell_gate1(z1))
        out = torch.sigmoid(self.out_gate(torch.cat((x, hidden, cell, memo), 1)))
        hidden = out * torch.tanh(self.w1(torch.cat((cell, memo), 1)))
        return (hidden, cell), memo


class ReversiblePredictor(nn.Module):
    """OpenSTL's ``zig_rev_predictor``: ``layers`` reversible ConvLSTM blocks on the latent pair."""

    def __init__(self, n: int, layers: int) -> None:
        super().__init__()
        self.convlstm = nn.ModuleList(STConvLSTMCell(n) for _ in range(layers))
        self.att = nn.ModuleList(
            nn.Sequential(nn.Conv3d(n, n, 1), nn.Sigmoid()) for _ in range(layers)
        )

    def forward(
        self, h: Pair, states: list[Pair], memo: torch.Tensor
    ) -> tuple[Pair, list[Pair], torch.Tensor]:
        x1, x2 = h
        new_states = []
        for cell, att in zip(self.convlstm, self.att, strict=True):
            state, memo = cell(x1, states[len(new_states)], memo)
            new_states.append(state)
            g = att(state[0])
            x2 = (1 - g) * x2 + g * state[0]
            x1, x2 = x2, x1
        return (x1, x2), new_states, memo
