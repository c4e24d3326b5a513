"""The Eidetic 3-D LSTM cell (Wang et al., ICLR 2019), laid out as OpenSTL's ``Eidetic3DLSTMCell``.

Tensors are short clips (B, channels, window, height, width). Every gate convolution is a
bias-free 3-D convolution with kernel (kt, k, k), padded in space only (0, k//2, k//2), so its
output has window − kt + 1 time steps; it is then repeated back to ``window`` steps by
nearest-neighbour interpolation (OpenSTL's ``tf_Conv3d``; with OpenSTL's kt = window = 2 every
gate map is one time slice used for both steps of the clip). σ is the logistic sigmoid::

    i, g, r, o, i', g', f' = split(conv_x(x))          (7·hidden)
    i_h, g_h, r_h, o_h     = split(conv_h(h))          (4·hidden)
    i_m, f_m, g_m, m_m     = split(conv_gm(M))         (4·hidden)

    R  = σ(r + r_h)
    c' = LayerNorm(c + RECALL(R, c_history)) + σ(i + i_h)·tanh(g + g_h)
    M' = σ(f' + f_m + 1)·tanh(m_m) + σ(i' + i_m)·tanh(g' + g_m)
    h' = tanh(conv_last([c'; M'])) · σ(tanh(o + o_h + conv_new_cell(c') + conv_new_gm(M')))

RECALL is the eidetic self-attention over the cell's own past: every (time, y, x) position of
R is a query of ``hidden`` features, the keys and values are all positions of all stored cell
states, softmax(Q·Kᵀ)·V without scaling (as in OpenSTL and the paper's code). The LayerNorm
over (hidden, window, H, W) is always there (OpenSTL's ``_norm_c_t``); ``layer_norm`` adds one
after every gate convolution. ``conv_last`` is 1×1×1.

``openstl_quirks=True`` reproduces two behaviours of OpenSTL's cell that differ from the paper
and from its TensorFlow code: the cell returns its *input* global memory M (so M stays at its
zero initial value through the whole rollout), and RECALL reshapes the channel-first tensors
directly to (B, −1, hidden), so a token is a run of ``hidden`` consecutive values of the
flattened (channel, time, y, x) array instead of one position's feature vector.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FORGET_BIAS = 1.0


class WindowConv3d(nn.Module):
    """Bias-free 3-D convolution padded in space only, repeated back to the clip length.

    (B, in, window, H, W) → (B, out, window, H, W); with ``norm_shape`` a LayerNorm over
    (out, window, H, W) follows.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int, int],
        norm_shape: tuple[int, int, int] | None = None,
    ) -> None:
        super().__init__()
        kt, kh, kw = kernel
        self.conv = nn.Conv3d(
            in_channels, out_channels, kernel, padding=(0, kh // 2, kw // 2), bias=False
        )
        self.norm = nn.LayerNorm([out_channels, *norm_shape]) if norm_shape is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in, window, H, W) → (B, out, window, H, W)."""
        y = self.conv(x)
        if y.shape[2:] != x.shape[2:]:
            y = F.interpolate(y, size=x.shape[2:], mode="nearest")
        return self.norm(y) if self.norm is not None else y


def recall(
    query: torch.Tensor, history: list[torch.Tensor], openstl_layout: bool = False
) -> torch.Tensor:
    """Eidetic recall: attention of ``query`` over all positions of the stored cell states.

    Args:
        query: (B, C, T, H, W), the recall gate R.
        history: cell states, each (B, C, T, H, W): keys and values.
        openstl_layout: tokens as OpenSTL's raw channel-first reshape (see module docstring).

    Returns:
        (B, C, T, H, W): softmax(Q·Kᵀ)·V with tokens of C features, no scaling.
    """
    b, c = query.shape[:2]
    if openstl_layout:
        q = query.reshape(b, -1, c)
        kv = torch.cat([m.reshape(b, -1, c) for m in history], dim=1)
    else:
        q = query.flatten(2).transpose(1, 2)
        kv = torch.cat([m.flatten(2).transpose(1, 2) for m in history], dim=1)
    out = F.scaled_dot_product_attention(q, kv, kv, scale=1.0)  # (B, THW, C)
    if openstl_layout:
        return out.reshape(query.shape)
    return out.transpose(1, 2).reshape(query.shape)


class Eidetic3DLSTMCell(nn.Module):
    """E3D-LSTM cell on clips of ``window`` frames (equations in the module docstring).

    Args:
        in_channels: channels of x; hidden: channels of h, c and M; window: clip length;
        height, width: the grid; kernel: (kt, k, k) gate-convolution kernel (kt ≤ window,
        k odd); layer_norm: LayerNorm after every gate convolution; openstl_quirks: see the
        module docstring.
    """

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        window: int,
        height: int,
        width: int,
        kernel: tuple[int, int, int],
        layer_norm: bool,
        openstl_quirks: bool = False,
    ) -> None:
        super().__init__()
        self.hidden = hidden
        self.openstl_quirks = openstl_quirks
        shape = (window, height, width)
        ns = shape if layer_norm else None
        self._norm_c_t = nn.LayerNorm([hidden, *shape])
        self.conv_x = WindowConv3d(in_channels, 7 * hidden, kernel, ns)
        self.conv_h = WindowConv3d(hidden, 4 * hidden, kernel, ns)
        self.conv_gm = WindowConv3d(hidden, 4 * hidden, kernel, ns)
        self.conv_new_cell = WindowConv3d(hidden, hidden, kernel, ns)
        self.conv_new_gm = WindowConv3d(hidden, hidden, kernel, ns)
        self.conv_last = nn.Conv3d(2 * hidden, hidden, 1, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        h: torch.Tensor,
        c: torch.Tensor,
        memory: torch.Tensor,
        history: list[torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, in, T, H, W); h, c, memory (B, hidden, T, H, W); history: past cell states
        (each like c, at least one) → new (h, c, memory)."""
        n = self.hidden
        i_h, g_h, r_h, o_h = torch.split(self.conv_h(h), n, dim=1)
        i_x, g_x, r_x, o_x, i_xm, g_xm, f_xm = torch.split(self.conv_x(x), n, dim=1)
        r = torch.sigmoid(r_x + r_h)
        recalled = recall(r, history, openstl_layout=self.openstl_quirks)
        c_new = self._norm_c_t(c + recalled) + torch.sigmoid(i_x + i_h) * torch.tanh(g_x + g_h)
        i_m, f_m, g_m, m_m = torch.split(self.conv_gm(memory), n, dim=1)
        m_new = torch.sigmoid(f_xm + f_m + FORGET_BIAS) * torch.tanh(m_m) + torch.sigmoid(
            i_xm + i_m
        ) * torch.tanh(g_xm + g_m)
        gate = torch.tanh(o_x + o_h + self.conv_new_cell(c_new) + self.conv_new_gm(m_new))
        h_new = torch.tanh(self.conv_last(torch.cat([c_new, m_new], dim=1))) * torch.sigmoid(gate)
        return h_new, c_new, (memory if self.openstl_quirks else m_new)
