"""Fully connected LSTM and GRU baselines on flattened frames (the seed's Table 1 "(LSTM)" and
"(GRU)" rows; FC-LSTM as in Shi et al. 2015 and Srivastava et al. 2015).

Every frame (C_in, H, W) is flattened to a vector of I = C_in·H·W values (channel-major). A
stack of fully connected recurrent cells (hidden sizes ``num_hidden``) runs over the sequence;
cell l reads the frame vector (l = 0) or the hidden state of the cell below. A linear
``readout`` maps the top hidden state to the C_out·H·W target values of the next frame.

- LSTM cell (PyTorch's ``nn.LSTM`` equations and parameter layout, two bias vectors):
  [i, f, g, o] = W_x·x + b_x + W_h·h + b_h;  c' = σ(f)·c + σ(i)·tanh(g);  h' = σ(o)·tanh(c').
- GRU cell (``nn.GRU``): [r_x, z_x, n_x] = W_x·x + b_x, [r_h, z_h, n_h] = W_h·h + b_h;
  r = σ(r_x + r_h), z = σ(z_x + z_h), n = tanh(n_x + r·n_h), h' = (1 − z)·n + z·h.

Rollout as the convolutional recurrent backbones: T_in + t_out − 1 steps; steps t < T_in read
input frame t; the output of step T_in − 1 + k is future frame k; at a future step the frame fed
in is cat(target channels, future_aux[k]), the targets being the model's previous output or, in
training, the truth with probability ``teacher_forcing`` (per sample and step). ``truth=None``
is closed-loop for any t_out.

Default width: ``num_hidden=None`` is one layer of C_out·H·W units (a hidden state the size of
the predicted frame: 5 184 for the iono 72×72 grid). The seed's Table 1 does not define its
LSTM/GRU (they are not in the seed repository); this default gives 241.9 M / 188.1 M parameters
at the iono configuration against the table's 283.6 M / 212.7 M (see the tests for the
arithmetic and why the table's numbers cannot come from a flattened-frame FC-LSTM/GRU).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geostl.models.backbones._contract import check_construction
from geostl.models.backbones._rollout import RecurrentRollout
from geostl.models.registry import BACKBONES


class FCLSTMCell(nn.Module):
    """Fully connected LSTM cell: x (B, in_features), h and c (B, hidden) → new (h, c)."""

    n_gates = 4

    def __init__(self, in_features: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.x2h = nn.Linear(in_features, 4 * hidden)
        self.h2h = nn.Linear(hidden, 4 * hidden)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        h, c = state
        i, f, g, o = (self.x2h(x) + self.h2h(h)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)

    def init_state(self, b: int, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = ref.new_zeros(b, self.hidden)
        return zeros, zeros.clone()


class FCGRUCell(nn.Module):
    """Fully connected GRU cell: x (B, in_features), h (B, hidden) → new h."""

    n_gates = 3

    def __init__(self, in_features: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.x2h = nn.Linear(in_features, 3 * hidden)
        self.h2h = nn.Linear(hidden, 3 * hidden)

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r_x, z_x, n_x = self.x2h(x).chunk(3, dim=1)
        r_h, z_h, n_h = self.h2h(state).chunk(3, dim=1)
        r = torch.sigmoid(r_x + r_h)
        z = torch.sigmoid(z_x + z_h)
        n = torch.tanh(n_x + r * n_h)
        h = (1.0 - z) * n + z * state
        return h, h

    def init_state(self, b: int, ref: torch.Tensor) -> torch.Tensor:
        return ref.new_zeros(b, self.hidden)


class _FCRecurrent(RecurrentRollout):
    """Stacked fully connected recurrent cells on flattened frames (see the module doc).

    Args:
        in_shape: (T_in, C_in, H, W), C_in = out_channels + aux_channels.
        out_channels: C_out, the target channels (first in x).
        t_out: default forecast length (any t_out can be asked at call time).
        aux_channels: A, auxiliary channels after the targets in x and in ``future_aux``.
        num_hidden: hidden sizes of the stacked cells; None → one layer of C_out·H·W units.

    Forward: ``(x, future_aux, t_out, truth=None, teacher_forcing=None)``
    → (B, t_out, C_out, H, W).
    """

    name = "fc_rnn"
    cell_cls: type[nn.Module] = FCLSTMCell

    def __init__(
        self,
        in_shape: Sequence[int],
        out_channels: int,
        t_out: int,
        aux_channels: int = 0,
        num_hidden: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        t_in, c_in, h, w = check_construction(
            self.name, in_shape, out_channels, t_out, aux_channels
        )
        if num_hidden is None:
            hidden = [out_channels * h * w]
        else:
            hidden = [int(n) for n in num_hidden]
            if not hidden or any(n < 1 for n in hidden):
                raise ValueError(
                    f"{self.name}: num_hidden must list positive ints, got {num_hidden!r}"
                )
        self.backbone_name = self.name
        self.t_in, self.h, self.w = t_in, h, w
        self.out_channels, self.aux_channels, self.t_out = out_channels, aux_channels, t_out
        self.num_hidden = hidden
        sizes = [c_in * h * w] + hidden
        self.cells = nn.ModuleList(
            self.cell_cls(sizes[i], sizes[i + 1]) for i in range(len(hidden))
        )
        self.readout = nn.Linear(hidden[-1], out_channels * h * w)

    def init_state(self, batch: int, ref: torch.Tensor) -> list:
        """Each cell's zero state."""
        return [cell.init_state(batch, ref) for cell in self.cells]

    def step(self, net: torch.Tensor, state: list) -> tuple[torch.Tensor, list]:
        """The flattened frame (B, C_in·H·W) through the cells: top output (B, hidden[-1])."""
        z = net.reshape(net.shape[0], -1)
        state = list(state)
        for i, cell in enumerate(self.cells):
            z, state[i] = cell(z, state[i])
        return z, state

    def predict(self, top: torch.Tensor) -> torch.Tensor:
        """Linear readout back to a frame: (B, C_out, H, W)."""
        return self.readout(top).reshape(top.shape[0], self.out_channels, self.h, self.w)


@BACKBONES.register("fc_lstm")
class FCLSTM(_FCRecurrent):
    """Fully connected LSTM on flattened frames (Table 1 "(LSTM)"); see the module doc."""

    name = "fc_lstm"
    cell_cls = FCLSTMCell


@BACKBONES.register("fc_gru")
class FCGRU(_FCRecurrent):
    """Fully connected GRU on flattened frames (Table 1 "(GRU)"); see the module doc."""

    name = "fc_gru"
    cell_cls = FCGRUCell
