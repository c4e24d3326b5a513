"""A dilated depth-wise convolution computed as an undilated one on the dilation's phase grids.

The large-kernel attention of gSTA, TAU, VAN and MogaNet uses depth-wise convolutions with a
dilation d > 1 (7×7 dilated by 3 on a 512-channel 18×18 latent in the SimVP seeds). On CPU,
oneDNN has no fast kernel for a dilated depth-wise convolution: measured on one thread, the
7×7 dilation-3 forward takes 15-18 ms where the undilated 5×5 of the same block takes
0.5-0.9 ms, and forward + backward 70 ms (``benchmarks/bench_translator_blocks.py``,
``docs/benchmarks.md``).

A "same"-padded convolution with dilation d only ever combines pixels of one phase: output
pixel (d·a + r, d·b + s) reads the inputs (d·(a + i) + r, d·(b + j) + s). So the image is split
into its d² phase sub-grids (pixel-unshuffle by d, after zero-padding H and W up to multiples of
d; the zeros are exactly the zeros the dilated convolution reads outside the image), each is
convolved with the same kernel undilated (padding (k − 1)/2), and the phases are put back
together. Same weights, same state-dict names (it *is* an ``nn.Conv2d``), the same output to
float32 rounding (``tests/test_dilated_depthwise.py``); the phase grids are channels-last,
the layout oneDNN's depth-wise kernels are fastest in.

Layers other than a stride-1, "same"-padded depth-wise convolution (groups = in = out channels,
odd kernel, equal dilation on both axes, zero padding) run as a plain ``nn.Conv2d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn


class DilatedDepthwiseConv2d(nn.Conv2d):
    """``nn.Conv2d(dim, dim, k, padding=d·(k − 1)/2, groups=dim, dilation=d)`` on (N, dim, H, W),
    computed on the d² phase grids (module docstring). Returns (N, dim, H, W) in the memory
    format of the input."""

    def _uses_phases(self) -> bool:
        k, d = self.kernel_size, self.dilation
        return (
            self.groups == self.in_channels == self.out_channels
            and k[0] == k[1]
            and k[0] % 2 == 1
            and d[0] == d[1] > 1
            and self.stride == (1, 1)
            and self.padding_mode == "zeros"
            and self.padding == (d[0] * (k[0] - 1) // 2,) * 2
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or not self._uses_phases():
            return super().forward(x)
        d, half = self.dilation[0], (self.kernel_size[0] - 1) // 2
        n, c, h, w = x.shape
        hq, wq = -(-h // d), -(-w // d)
        channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        if (hq * d, wq * d) != (h, w):
            x = F.pad(x, (0, wq * d - w, 0, hq * d - h))
        # (N, C, H, W) -> NHWC (N, hq, d, wq, d, C) -> phases (N·d·d, hq, wq, C), channels-last
        nhwc = x.permute(0, 2, 3, 1).reshape(n, hq, d, wq, d, c)
        phases = nhwc.permute(0, 2, 4, 1, 3, 5).reshape(n * d * d, hq, wq, c).permute(0, 3, 1, 2)
        y = F.conv2d(phases, self.weight, self.bias, 1, half, 1, self.groups)
        # back: (N·d·d, C, hq, wq) -> (N, d, d, hq, wq, C) -> (N, hq, d, wq, d, C) -> (N, C, H, W)
        y = y.permute(0, 2, 3, 1).reshape(n, d, d, hq, wq, c).permute(0, 3, 1, 4, 2, 5)
        y = y.reshape(n, hq * d, wq * d, c).permute(0, 3, 1, 2)[:, :, :h, :w]
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        return y.contiguous(memory_format=fmt)
