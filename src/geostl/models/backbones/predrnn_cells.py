"""Cells of the PredRNN family, laid out as OpenSTL's (so parameter counts match its figures).

All gate convolutions are bias-free k×k convolutions (stride 1, "same" padding), optionally
followed by a LayerNorm over (channels, H, W); a forget bias of 1.0 is added before the forget
gates' sigmoid. Shapes: inputs (B, in_channels, H, W), states (B, hidden, H, W).

- :class:`SpatioTemporalLSTMCell` (PredRNN, Wang et al., NeurIPS 2017; PredRNN-V2, TPAMI 2022):
  a temporal memory c (LSTM-like, from the same layer at the previous step) and a
  spatiotemporal memory m (from the layer below at this step, or from the top layer at the
  previous step: the zig-zag flow)::

      i,f,g     = σ(x_i + h_i), σ(x_f + h_f + 1), tanh(x_g + h_g);  Δc = i·g;  c' = f·c + Δc
      i',f',g'  = σ(x_i' + m_i), σ(x_f' + m_f + 1), tanh(x_g' + m_g); Δm = i'·g'; m' = f'·m + Δm
      o         = σ(x_o + h_o + conv_o([c', m']));   h' = o · tanh(conv_last₁ₓ₁([c', m']))

  with x_* = conv_x(x) (7 slices), h_* = conv_h(h) (4), m_* = conv_m(m) (3). The increments
  Δc, Δm are returned for PredRNN-V2's memory decoupling loss.
- :class:`CausalLSTMCell` (PredRNN++, Wang et al., ICML 2018): c and m are updated in cascade,
  m from the new c::

      i,f,g     = σ(x_i + h_i + c_i), σ(x_f + h_f + c_f + 1), tanh(x_g + h_g + c_g);  c' = f·c + i·g
      (i_c, g_c, f_c, o_c) = conv_c2m(c')
      i',f',g'  = σ(x_i' + m_i + i_c), σ(x_f' + m_f + f_c + 1), tanh(x_g' + g_c)
      m'        = f'·tanh(m_m) + i'·g'
      o         = tanh(x_o + h_o + o_c + conv_om(m'));  h' = o · tanh(conv_last₁ₓ₁([c', m']))

  with c_* = conv_c(c) (3 slices), m_* = conv_m(m) (3: i, f, m_m). OpenSTL's cell also builds a
  ``conv_o`` (2·hidden → hidden, k×k) that its forward never uses; ``openstl_inert_params``
  keeps it, frozen, so counts and state-dict keys match OpenSTL (0.82 M per 128-channel cell).
- :class:`GradientHighwayUnit` (PredRNN++'s GHU) between the first and second layer:
  p, u = tanh, σ of conv_x(x) + conv_z(z);  z' = u·p + (1 − u)·z; weights initialised
  uniform(±0.001) as in OpenSTL.
"""

from __future__ import annotations

import torch
from torch import nn


def gate_conv(
    in_ch: int, out_ch: int, k: int, norm_shape: tuple[int, int, int] | None
) -> nn.Sequential:
    """Bias-free k×k convolution (same padding), optionally followed by LayerNorm(norm_shape)."""
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, k, stride=1, padding=k // 2, bias=False)]
    if norm_shape is not None:
        layers.append(nn.LayerNorm(list(norm_shape)))
    return nn.Sequential(*layers)


class SpatioTemporalLSTMCell(nn.Module):
    """ST-LSTM cell (see the module docstring).

    Args:
        in_channels: channels of the cell input x.
        hidden: channels of h, c and m.
        height, width: spatial size (for the optional LayerNorm).
        filter_size: odd kernel size of the gate convolutions.
        layer_norm: LayerNorm over (channels, height, width) after each k×k convolution.
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

        def norm(ch: int) -> tuple[int, int, int] | None:
            return (ch, height, width) if layer_norm else None

        self.conv_x = gate_conv(in_channels, 7 * hidden, filter_size, norm(7 * hidden))
        self.conv_h = gate_conv(hidden, 4 * hidden, filter_size, norm(4 * hidden))
        self.conv_m = gate_conv(hidden, 3 * hidden, filter_size, norm(3 * hidden))
        self.conv_o = gate_conv(2 * hidden, hidden, filter_size, norm(hidden))
        self.conv_last = nn.Conv2d(2 * hidden, hidden, 1, bias=False)

    def forward(
        self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, m: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step → (h', c', m', Δc, Δm), each (B, hidden, H, W)."""
        return self.update(self.conv_x(x), self.conv_h(h), c, m)

    def update(
        self, x_gates: torch.Tensor, h_gates: torch.Tensor, c: torch.Tensor, m: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The cell equations from the gate pre-activations x_gates = conv_x(x)
        (B, 7·hidden, H, W) and h_gates (B, 4·hidden, H, W; conv_h(h) in this cell)."""
        i_x, f_x, g_x, i_xp, f_xp, g_xp, o_x = torch.split(x_gates, self.hidden, dim=1)
        i_h, f_h, g_h, o_h = torch.split(h_gates, self.hidden, dim=1)
        i_m, f_m, g_m = torch.split(self.conv_m(m), self.hidden, dim=1)
        delta_c = torch.sigmoid(i_x + i_h) * torch.tanh(g_x + g_h)
        c_new = torch.sigmoid(f_x + f_h + 1.0) * c + delta_c
        delta_m = torch.sigmoid(i_xp + i_m) * torch.tanh(g_xp + g_m)
        m_new = torch.sigmoid(f_xp + f_m + 1.0) * m + delta_m
        mem = torch.cat([c_new, m_new], dim=1)
        o = torch.sigmoid(o_x + o_h + self.conv_o(mem))
        h_new = o * torch.tanh(self.conv_last(mem))
        return h_new, c_new, m_new, delta_c, delta_m


class CausalLSTMCell(nn.Module):
    """Causal LSTM cell of PredRNN++ (see the module docstring).

    Args:
        in_channels, hidden, height, width, filter_size, layer_norm: as
            :class:`SpatioTemporalLSTMCell`.
        openstl_inert_params: also build OpenSTL's unused ``conv_o`` (frozen).
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

        def norm(ch: int) -> tuple[int, int, int] | None:
            return (ch, height, width) if layer_norm else None

        k = filter_size
        self.conv_x = gate_conv(in_channels, 7 * hidden, k, norm(7 * hidden))
        self.conv_h = gate_conv(hidden, 4 * hidden, k, norm(4 * hidden))
        self.conv_c = gate_conv(hidden, 3 * hidden, k, norm(3 * hidden))
        self.conv_m = gate_conv(hidden, 3 * hidden, k, norm(3 * hidden))
        if openstl_inert_params:
            self.conv_o = gate_conv(2 * hidden, hidden, k, norm(hidden))
            self.conv_o.requires_grad_(False)
        self.conv_c2m = gate_conv(hidden, 4 * hidden, k, norm(4 * hidden))
        self.conv_om = gate_conv(hidden, hidden, k, norm(hidden))
        self.conv_last = nn.Conv2d(2 * hidden, hidden, 1, bias=False)

    def forward(
        self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, m: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step → (h', c', m'), each (B, hidden, H, W)."""
        i_x, f_x, g_x, i_xp, f_xp, g_xp, o_x = torch.split(self.conv_x(x), self.hidden, dim=1)
        i_h, f_h, g_h, o_h = torch.split(self.conv_h(h), self.hidden, dim=1)
        i_c, f_c, g_c = torch.split(self.conv_c(c), self.hidden, dim=1)
        i_m, f_m, m_m = torch.split(self.conv_m(m), self.hidden, dim=1)
        i = torch.sigmoid(i_x + i_h + i_c)
        f = torch.sigmoid(f_x + f_h + f_c + 1.0)
        g = torch.tanh(g_x + g_h + g_c)
        c_new = f * c + i * g
        i_c2, g_c2, f_c2, o_c2 = torch.split(self.conv_c2m(c_new), self.hidden, dim=1)
        i_p = torch.sigmoid(i_xp + i_m + i_c2)
        f_p = torch.sigmoid(f_xp + f_m + f_c2 + 1.0)
        g_p = torch.tanh(g_xp + g_c2)
        m_new = f_p * torch.tanh(m_m) + i_p * g_p
        o = torch.tanh(o_x + o_h + o_c2 + self.conv_om(m_new))
        h_new = o * torch.tanh(self.conv_last(torch.cat([c_new, m_new], dim=1)))
        return h_new, c_new, m_new


class GradientHighwayUnit(nn.Module):
    """PredRNN++'s gradient highway unit on (B, channels, H, W): z' = u·p + (1 − u)·z.

    Args:
        channels: channels of x and z (the first layer's hidden size).
        height, width, filter_size, layer_norm: as the cells. (OpenSTL's LayerNorm here is
            sized for ``channels`` although its convolutions give 2·channels, so its
            ``layer_norm=1`` fails; this one normalises the 2·channels it gets.)
        init_range: weights uniform in ±init_range (OpenSTL: 0.001).
    """

    def __init__(
        self,
        channels: int,
        height: int,
        width: int,
        filter_size: int,
        layer_norm: bool,
        init_range: float = 0.001,
    ) -> None:
        super().__init__()
        self.channels = channels
        norm = (2 * channels, height, width) if layer_norm else None
        self.conv_z = gate_conv(channels, 2 * channels, filter_size, norm)
        self.conv_x = gate_conv(channels, 2 * channels, filter_size, norm)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.uniform_(module.weight, -init_range, init_range)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """x, z (B, channels, H, W) → new z."""
        p, u = torch.split(self.conv_x(x) + self.conv_z(z), self.channels, dim=1)
        u = torch.sigmoid(u)
        return u * torch.tanh(p) + (1.0 - u) * z
