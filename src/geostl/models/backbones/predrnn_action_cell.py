"""The action-conditioned spatiotemporal LSTM cell (``fusion: action``; Liu et al. 2024).

After the action-conditioned PredRNN-V2 of Wang et al. (TPAMI 2022, thuml/predrnn-pytorch):
the cell is PredRNN's ST-LSTM (:class:`~geostl.models.backbones.predrnn_cells.
SpatioTemporalLSTMCell`) whose hidden-state gate pre-activations are modulated by the action
a_t of the step, multiplicatively (Hadamard product)::

    h_gates = conv_h(h) ⊙ conv_a(a)        (B, 4·hidden, H, W): i, f, g, o slices

and the gates, memories and output are then formed exactly as in the ST-LSTM (same
``update``). ``conv_a`` is a bias-free k×k convolution from the action channels to 4·hidden
(with the optional LayerNorm, like ``conv_h``). In geostl the action is the step's auxiliary
channels, space-to-depth patched like the frame (p²·A channels). Since conv_h(0) = 0, the
action acts from the second step on, through the hidden state.

How the seed's authors wired it is not published (the repository has no action code; the
parameter growth of Table 1's action rows does not pin it down), so this is the thuml cell's
rule, not a reproduction of those rows.
"""

from __future__ import annotations

import torch

from geostl.models.backbones.predrnn_cells import SpatioTemporalLSTMCell, gate_conv


class ActionSpatioTemporalLSTMCell(SpatioTemporalLSTMCell):
    """ST-LSTM cell with action-modulated hidden gates.

    Args:
        in_channels: channels of the cell input x (layer 0: the patched target channels).
        action_channels: channels of the action a (the patched auxiliary channels).
        hidden, height, width, filter_size, layer_norm: as :class:`SpatioTemporalLSTMCell`.
    """

    def __init__(
        self,
        in_channels: int,
        action_channels: int,
        hidden: int,
        height: int,
        width: int,
        filter_size: int,
        layer_norm: bool,
    ) -> None:
        super().__init__(in_channels, hidden, height, width, filter_size, layer_norm)
        if not isinstance(action_channels, int) or action_channels < 1:
            raise ValueError(
                f"action cell: action_channels must be a positive int, got {action_channels!r}"
            )
        norm = (4 * hidden, height, width) if layer_norm else None
        self.conv_a = gate_conv(action_channels, 4 * hidden, filter_size, norm)

    def forward(  # type: ignore[override]
        self,
        x: torch.Tensor,
        h: torch.Tensor,
        c: torch.Tensor,
        m: torch.Tensor,
        action: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step with action (B, action_channels, H, W) → (h', c', m', Δc, Δm)."""
        return self.update(self.conv_x(x), self.conv_h(h) * self.conv_a(action), c, m)
