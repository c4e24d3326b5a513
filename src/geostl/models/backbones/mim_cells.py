"""Cells of MIM (Wang et al., CVPR 2019, "Memory In Memory"), laid out as OpenSTL's modules.

All tensors are (B, channels, height, width); every convolution is bias-free, k×k, stride 1,
"same" padding, optionally followed by a LayerNorm over (channels, height, width). σ is the
logistic sigmoid; the forget gates get a constant +1 bias (OpenSTL's ``_forget_bias``).

- :class:`SpatioTemporalLSTMCell`, MIM's first layer (PredRNN's ST-LSTM): a temporal memory c
  and the spatiotemporal memory m that zig-zags through the stack.
- :class:`MIMMemory`, the recurrent unit used for both MIM memories: MIMN (non-stationarity,
  between layers, fed with differences of hidden states) and MIMS (stationarity, inside each
  MIM block). It is an LSTM whose input and forget gates also see the previous cell state
  through learned per-position weights (peepholes ``ct_weight``, ``oc_weight``, zero-initialised).
- :class:`MIMBlock`, layers 2..L: an ST-LSTM whose forget path ``f·c`` is replaced by the MIMS
  memory ``MIMS(diff_h, c)``.
"""

from __future__ import annotations

import torch
from torch import nn

FORGET_BIAS = 1.0


def gate_conv(in_ch: int, out_ch: int, k: int, norm_hw: tuple[int, int] | None) -> nn.Module:
    """Bias-free k×k same-padded convolution, then LayerNorm over (out_ch, H, W) if asked."""
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, k, stride=1, padding=k // 2, bias=False)]
    if norm_hw is not None:
        layers.append(nn.LayerNorm([out_ch, *norm_hw]))
    return nn.Sequential(*layers)


class SpatioTemporalLSTMCell(nn.Module):
    """ST-LSTM cell (PredRNN), MIM's first layer.

    Gates from conv_x(x) (7·hidden: i, f, g, i', f', g', o), conv_h(h) (4·hidden: i, f, g, o)
    and conv_m(m) (3·hidden: i', f', g')::

        c' = σ(f_x + f_h + 1)·c + σ(i_x + i_h)·tanh(g_x + g_h)
        m' = σ(f'_x + f_m + 1)·m + σ(i'_x + i_m)·tanh(g'_x + g_m)
        h' = σ(o_x + o_h + conv_o([c'; m'])) · tanh(conv_last([c'; m']))    (conv_last 1×1)

    Args:
        in_channels: channels of x; hidden: channels of h, c and m; height, width: the grid
        (for the optional LayerNorm); filter_size: odd kernel size; layer_norm: LayerNorms.
    """

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        height: int,
        width: int,
        filter_size: int,
        layer_norm: bool,
    ) -> None:
        super().__init__()
        self.hidden = hidden
        hw = (height, width) if layer_norm else None
        self.conv_x = gate_conv(in_channels, 7 * hidden, filter_size, hw)
        self.conv_h = gate_conv(hidden, 4 * hidden, filter_size, hw)
        self.conv_m = gate_conv(hidden, 3 * hidden, filter_size, hw)
        self.conv_o = gate_conv(2 * hidden, hidden, filter_size, hw)
        self.conv_last = nn.Conv2d(2 * hidden, hidden, 1, bias=False)

    def forward(
        self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, m: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, in, H, W); h, c, m (B, hidden, H, W) → new (h, c, m)."""
        i_x, f_x, g_x, i_xm, f_xm, g_xm, o_x = torch.split(self.conv_x(x), self.hidden, dim=1)
        i_h, f_h, g_h, o_h = torch.split(self.conv_h(h), self.hidden, dim=1)
        i_m, f_m, g_m = torch.split(self.conv_m(m), self.hidden, dim=1)
        c_new = torch.sigmoid(f_x + f_h + FORGET_BIAS) * c + torch.sigmoid(i_x + i_h) * torch.tanh(
            g_x + g_h
        )
        m_new = torch.sigmoid(f_xm + f_m + FORGET_BIAS) * m + torch.sigmoid(
            i_xm + i_m
        ) * torch.tanh(g_xm + g_m)
        mem = torch.cat([c_new, m_new], dim=1)
        h_new = torch.sigmoid(o_x + o_h + self.conv_o(mem)) * torch.tanh(self.conv_last(mem))
        return h_new, c_new, m_new


class MIMMemory(nn.Module):
    """The MIMN / MIMS recurrent memory: an LSTM with per-position cell-state peepholes.

    With x the input, h the recurrent input and c the unit's own cell state::

        i, g, f, o = split(conv_h(h) + conv_x(x))        (4·hidden channels, in this order)
        i_c, f_c   = split(repeat(c, 2) ⊙ ct_weight)     (ct_weight: (2·hidden, H, W))
        c' = σ(f + f_c + 1)·c + σ(i + i_c)·tanh(g)
        h' = σ(o + c' ⊙ oc_weight)·tanh(c')              (oc_weight: (hidden, H, W))

    ``ct_weight`` and ``oc_weight`` start at zero, as in OpenSTL. With ``openstl_inert_params``
    the unit also builds OpenSTL's MIMN ``conv_last`` (2·hidden → hidden, 1×1), which its
    forward never uses; it is frozen (``requires_grad=False``) and only keeps counts and
    state-dict keys equal to OpenSTL's.

    Args:
        in_channels: channels of x and of h (OpenSTL convolves both with ``in_channels`` inputs);
        hidden: channels of the outputs h', c'; height, width: the grid; filter_size: odd
        kernel size; layer_norm: LayerNorms after the convolutions; openstl_inert_params: see above.
    """

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        height: int,
        width: int,
        filter_size: int,
        layer_norm: bool,
        openstl_inert_params: bool = False,
    ) -> None:
        super().__init__()
        self.hidden = hidden
        hw = (height, width) if layer_norm else None
        self.ct_weight = nn.Parameter(torch.zeros(2 * hidden, height, width))
        self.oc_weight = nn.Parameter(torch.zeros(hidden, height, width))
        self.conv_h_concat = gate_conv(in_channels, 4 * hidden, filter_size, hw)
        self.conv_x_concat = gate_conv(in_channels, 4 * hidden, filter_size, hw)
        if openstl_inert_params:
            self.conv_last = nn.Conv2d(2 * hidden, hidden, 1, bias=False)
            self.conv_last.requires_grad_(False)

    def forward(
        self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x, h (B, in, H, W); c (B, hidden, H, W) → new (h, c), each (B, hidden, H, W)."""
        i, g, f, o = torch.split(self.conv_h_concat(h) + self.conv_x_concat(x), self.hidden, 1)
        i_c, f_c = torch.split(c.repeat(1, 2, 1, 1) * self.ct_weight, self.hidden, dim=1)
        c_new = torch.sigmoid(f + f_c + FORGET_BIAS) * c + torch.sigmoid(i + i_c) * torch.tanh(g)
        h_new = torch.sigmoid(o + c_new * self.oc_weight) * torch.tanh(c_new)
        return h_new, c_new


class MIMBlock(nn.Module):
    """MIM block (layers 2..L): ST-LSTM with the forget path replaced by the MIMS memory.

    Gates from conv_x_cc(x) (4·hidden: i, g, f', o), conv_t_cc(h) (3·hidden: i, g, o) and
    conv_s_cc(m) (4·hidden: i', g', f', o)::

        m' = σ(f'_x + f'_s + 1)·m + σ(i_x + i'_s)·tanh(g_x + g'_s)
        c̃, s' = MIMS(x=diff_h, h=c, c=s)        (s: the MIMS cell state, carried in time)
        c' = c̃ + σ(i_x + i_t)·tanh(g_x + g_t)
        h' = σ(o_x + o_t + o_s) · tanh(conv_last([c'; m']))                 (conv_last 1×1)

    ``diff_h`` is the MIMN output of the layer below (zeros at the first step). The block needs
    ``in_channels == hidden`` (OpenSTL convolves h with an ``in_channels``-input convolution).

    Args:
        in_channels: channels of x (the hidden state of the layer below); hidden: channels of
        h, c, m; height, width: the grid; filter_size: odd kernel size; layer_norm: LayerNorms.
    """

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        height: int,
        width: int,
        filter_size: int,
        layer_norm: bool,
    ) -> None:
        super().__init__()
        if in_channels != hidden:
            raise ValueError(
                f"MIMBlock: in_channels ({in_channels}) must equal hidden ({hidden}); MIM needs "
                "equal num_hidden in every layer"
            )
        self.hidden = hidden
        hw = (height, width) if layer_norm else None
        self.conv_t_cc = gate_conv(in_channels, 3 * hidden, filter_size, hw)
        self.conv_s_cc = gate_conv(hidden, 4 * hidden, filter_size, hw)
        self.conv_x_cc = gate_conv(hidden, 4 * hidden, filter_size, hw)
        self.mims = MIMMemory(hidden, hidden, height, width, filter_size, layer_norm)
        self.conv_last = nn.Conv2d(2 * hidden, hidden, 1, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        diff_h: torch.Tensor,
        h: torch.Tensor,
        c: torch.Tensor,
        m: torch.Tensor,
        s: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """All inputs (B, hidden, H, W) → new (h, c, m, s)."""
        i_t, g_t, o_t = torch.split(self.conv_t_cc(h), self.hidden, dim=1)
        i_s, g_s, f_s, o_s = torch.split(self.conv_s_cc(m), self.hidden, dim=1)
        i_x, g_x, f_x, o_x = torch.split(self.conv_x_cc(x), self.hidden, dim=1)
        m_new = torch.sigmoid(f_x + f_s + FORGET_BIAS) * m + torch.sigmoid(i_x + i_s) * torch.tanh(
            g_x + g_s
        )
        c_kept, s_new = self.mims(diff_h, c, s)
        c_new = c_kept + torch.sigmoid(i_x + i_t) * torch.tanh(g_x + g_t)
        mem = torch.cat([c_new, m_new], dim=1)
        h_new = torch.sigmoid(o_x + o_t + o_s) * torch.tanh(self.conv_last(mem))
        return h_new, c_new, m_new, s_new
