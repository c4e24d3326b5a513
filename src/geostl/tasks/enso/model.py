"""The seed's ENSO multi-task ConvLSTM (the ENSO blog post, Keydana 2021, torch for R).

Input: ``x`` (B, T, 1, W, H) normalised SST months with land set to 0, laid out as the seed
does (longitude before latitude: 360 × 115 at its 1° crop). Layers (defaults = the seed):

- a stack of 3 ConvLSTM cells, hidden (16, 16, 32), kernels (3, 3, 5), padding k // 2. Each
  cell is **one** convolution with bias over ``cat(x_t, h_{t-1})`` to 4·hidden channels, split
  in the order i, f, o, g: i, f, o = σ(·), g = tanh(·), c_t = f⊙c_{t-1} + i⊙g,
  h_t = o⊙tanh(c_t). States start at zero; every step runs through every layer.
- the top layer's last hidden state h (B, 32, W, H) feeds
  - the **SST head** ``conv1`` 5×5, padding 2, 32 → 1: next month's normalised SST grid;
  - the **shared trunk** ``conv2`` 5×5 stride 2 (no padding), ``conv3`` 5×5 stride 3, no
    activation between them, flatten, ``Linear → 64``, ``BatchNorm1d(64)``, ReLU;
  - the **index head** Linear 64 → 128, ReLU, Linear 128 → n_leads (normalised Niño 3.4);
  - the **phase head** Linear 64 → 128, ReLU, Linear 128 → 3·n_leads (logits of the classes
    E, L, N: El Niño, La Niña, neutral, the seed's alphabetical factor order).

With the defaults and a 360 × 115 grid the model has 2 389 605 parameters (spec §4.3).
``n_leads`` > 1 is geostl's extension: one index value and one phase per lead month from the
same trunk (the seed predicts lead 1 only; ``n_leads=1`` is exactly the seed's model).

geostl's :class:`geostl.models.backbones.convlstm.ConvLSTMCell` is not reused: it follows
OpenSTL (two bias-free convolutions for x and h, gate order i, f, g, o), which gives other
parameter counts (no gate bias) and other state-dict keys than the seed's single biased
convolution over the concatenation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geostl.models.registry import HEADS

PHASE_CLASSES = ("E", "L", "N")  # El Nino, La Nina, neutral (seed: factor levels 1, 2, 3)


class SeedConvLSTMCell(nn.Module):
    """The seed's ConvLSTM cell: one biased k×k convolution over ``cat(x, h)``.

    Args:
        in_channels: channels of the cell input x.
        hidden: hidden (and cell-state) channels.
        kernel: odd kernel size; padding ``kernel // 2`` keeps the spatial size.
    """

    def __init__(self, in_channels: int, hidden: int, kernel: int) -> None:
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f"ConvLSTM kernel must be odd, got {kernel}")
        self.hidden = hidden
        self.conv = nn.Conv2d(in_channels + hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: x (B, in, W, H), state (h, c) each (B, hidden, W, H) → new (h, c)."""
        h, c = state
        gates = self.conv(torch.cat([x, h], dim=1))
        i, f, o, g = torch.split(gates, self.hidden, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


def _trunk_size(width: int, height: int) -> tuple[int, int]:
    """Spatial size after conv2 (5×5, stride 2) and conv3 (5×5, stride 3), no padding."""
    sizes = []
    for n in (width, height):
        after2 = (n - 5) // 2 + 1
        after3 = (after2 - 5) // 3 + 1
        if after2 < 5 or after3 < 1:
            raise ValueError(
                f"grid {width}x{height} is too small for the seed's trunk (conv 5x5 stride 2, "
                "then 5x5 stride 3); each side needs at least 13 cells"
            )
        sizes.append(after3)
    return sizes[0], sizes[1]


@HEADS.register("enso_index")
class IndexHead(nn.Sequential):
    """Niño 3.4 regression head: Linear(embed → hidden), ReLU, Linear(hidden → n_leads).

    Input (B, embed) shared embedding; output (B, n_leads) normalised index per lead.
    """

    def __init__(self, embed: int = 64, hidden: int = 128, n_leads: int = 1) -> None:
        super().__init__(nn.Linear(embed, hidden), nn.ReLU(), nn.Linear(hidden, n_leads))


@HEADS.register("enso_phase")
class PhaseHead(nn.Sequential):
    """ENSO phase head: Linear(embed → hidden), ReLU, Linear(hidden → 3·n_leads).

    Input (B, embed); output (B, 3·n_leads) logits, viewed by the model as (B, n_leads, 3)
    in the class order E, L, N.
    """

    def __init__(self, embed: int = 64, hidden: int = 128, n_leads: int = 1) -> None:
        super().__init__(nn.Linear(embed, hidden), nn.ReLU(), nn.Linear(hidden, 3 * n_leads))


class EnsoConvLSTM(nn.Module):
    """Multi-task ENSO forecaster (see module docstring).

    Args:
        width, height: grid size (longitudes, latitudes) of the input frames.
        in_channels: channels per input month (1: SST).
        hidden: hidden channels per ConvLSTM layer.
        kernels: kernel size per ConvLSTM layer.
        trunk_channels: channels of conv2 and conv3 (seed: 32).
        embed: width of the shared embedding (seed: 64).
        head_hidden: width of the index and phase heads' hidden layer (seed: 128).
        n_leads: index values and phases predicted per sample (seed: 1).
    """

    def __init__(
        self,
        width: int = 360,
        height: int = 115,
        in_channels: int = 1,
        hidden: Sequence[int] = (16, 16, 32),
        kernels: Sequence[int] = (3, 3, 5),
        trunk_channels: int = 32,
        embed: int = 64,
        head_hidden: int = 128,
        n_leads: int = 1,
    ) -> None:
        super().__init__()
        if len(hidden) != len(kernels) or not hidden:
            raise ValueError(f"hidden {tuple(hidden)} and kernels {tuple(kernels)} must match")
        if n_leads < 1:
            raise ValueError(f"n_leads must be >= 1, got {n_leads}")
        self.width, self.height, self.n_leads = width, height, n_leads
        ins = [in_channels, *hidden[:-1]]
        self.cells = nn.ModuleList(
            SeedConvLSTMCell(i, h, k) for i, h, k in zip(ins, hidden, kernels, strict=True)
        )
        top = hidden[-1]
        self.conv1 = nn.Conv2d(top, 1, 5, padding=2)
        self.conv2 = nn.Conv2d(top, trunk_channels, 5, stride=2)
        self.conv3 = nn.Conv2d(trunk_channels, trunk_channels, 5, stride=3)
        w3, h3 = _trunk_size(width, height)
        self.linear = nn.Linear(trunk_channels * w3 * h3, embed)
        self.b1 = nn.BatchNorm1d(embed)
        self.index_head = HEADS.build(
            "enso_index", embed=embed, hidden=head_hidden, n_leads=n_leads
        )
        self.phase_head = HEADS.build(
            "enso_phase", embed=embed, hidden=head_hidden, n_leads=n_leads
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the model.

        Args:
            x: (B, T, C, W, H) normalised input months, land = 0.

        Returns:
            ``sst`` (B, 1, W, H) next month's normalised SST; ``index`` (B, n_leads)
            normalised Niño 3.4 per lead; ``phase_logits`` (B, n_leads, 3) in the order
            :data:`PHASE_CLASSES`.
        """
        if x.ndim != 5 or x.shape[3:] != (self.width, self.height):
            raise ValueError(
                f"input must be (B, T, C, {self.width}, {self.height}), got {tuple(x.shape)}"
            )
        b = x.shape[0]
        states = [(x.new_zeros(b, c.hidden, self.width, self.height),) * 2 for c in self.cells]
        for t in range(x.shape[1]):
            inp = x[:, t]
            for layer, cell in enumerate(self.cells):
                states[layer] = cell(inp, states[layer])
                inp = states[layer][0]
        h = states[-1][0]
        sst = self.conv1(h)
        z = self.conv3(self.conv2(h)).flatten(1)
        z = torch.relu(self.b1(self.linear(z)))
        index = self.index_head(z)
        logits = self.phase_head(z).view(b, self.n_leads, 3)
        return {"sst": sst, "index": index, "phase_logits": logits}
