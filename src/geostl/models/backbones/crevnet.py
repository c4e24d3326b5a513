"""CrevNet backbone: an invertible two-way autoencoder around a reversible ConvLSTM predictor,
laid out as OpenSTL's ``CrevNet_Model`` (Yu et al., "Efficient and Information-Preserving
Future Frame Prediction and Beyond", ICLR 2020).

Structure (OpenSTL layout, so parameter counts and state-dict names match its class):

- each step reads a window of ``temp`` = 3 consecutive frames, (B, C_in, 3, H, W);
- ``encoder`` (:class:`~geostl.models.backbones.crevnet_blocks.InvertibleAutoencoder`): a
  2×2 pixel-shuffle squeeze (``init_ds``), then i-RevNet blocks in groups (``n_blocks`` =
  [4, 5, 3], ``n_strides`` = [1, 2, 2]; a stride-2 block squeezes by 2) normalised with
  BatchNorm3d as OpenSTL's (``encoder_norm="group"``: GroupNorm(1), independent of the batch):
  the latent is a pair of (B, L, 3, H/8, W/8) with L = 32·C_in;
- ``frame_predictor``: ``predictor_rnn_layers`` (8) reversible blocks, each a 3-D
  spatiotemporal LSTM on one half whose gated hidden state is blended into the other half,
  then the halves swap; cell states and the zig-zag memory persist over time;
- the decoder is the encoder run backwards (``encoder.decode``): the exact inverse, so
  ``decode(encode(x)) == x`` to float precision. It gives the predicted next window of all
  C_in channels; its last frame's first C_out channels are the forecast.

No ``readout``: the output is the inverse of the encoder, not the output of a layer that could
be zeroed, so ``residual: last`` (which zeroes a readout) is refused with a clear error.

Rollout as :mod:`.convlstm`: T_in + t_out − 1 steps; step t reads the window of frames
t − 2, t − 1, t (frame 0 repeated before the start) and predicts frame t + 1; future frame k
fed at step T_in + k is cat(own output or truth, future_aux[k]) (scheduled sampling per sample
and step, closed loop at inference). OpenSTL differs in the rollout, not in the network: its
training forward is fully teacher-forced (17 steps for 10 → 10, windows 0–2 … 16–18 → the
next window, an MSE on each whole window) and its inference restarts from zero states on the
last input window, feeding back whole decoded windows; here every step shares the states of
the input frames, and the window is built from the frames fed so far, so teacher forcing and
future_aux act frame by frame as the contract asks.

MACs: one step (encode, predict, decode) at 64×64, C 1 is 993 742 848 multiply-adds of
convolutions plus 282 624 normalised elements. OpenSTL's published 270.7 G for Moving MNIST is
fvcore on its training forward at batch 16 (its counter feeds ``batch_size`` sequences of 20
frames): 16 × 17 × (993 742 848 + 5 × 282 624) = 270.68 G, fvcore counting 5 per element of a
training-mode BatchNorm. Per sample, a 10 → 10 forecast here is 19 steps, 18.88 G.

The predictor's width is fixed by the invertible encoder (it must equal L), so OpenSTL's
``rnn_size`` is derived; passing a different value is an error.

Parameters at OpenSTL's default (MMNIST 64×64, C 1, L = rnn_size = 32, 8 layers): 4 997 444
(each predictor layer 610 560 + 1 056, encoder 104 516; OpenSTL's table: 5.0 M), with either
``encoder_norm``. At the iono shape (72×72, C 1) the same 4 997 444 (the count does not depend
on H, W).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from geostl.models.backbones._contract import check_construction
from geostl.models.backbones._rollout import RecurrentRollout
from geostl.models.backbones.crevnet_blocks import (
    ENCODER_NORMS,
    InvertibleAutoencoder,
    ReversiblePredictor,
)
from geostl.models.registry import BACKBONES

TEMP = 3


@BACKBONES.register("crevnet")
class CrevNet(RecurrentRollout):
    """Invertible autoencoder + reversible ConvLSTM predictor with scheduled sampling.

    Args:
        in_shape: (T_in, C_in, H, W), C_in = out_channels + aux_channels.
        out_channels: C_out, the target channels (first in x).
        t_out: default forecast length (any t_out can be asked at call time).
        aux_channels: A, auxiliary channels after the targets.
        predictor_rnn_layers: reversible ConvLSTM blocks (OpenSTL: 8).
        n_blocks: i-RevNet blocks per group (OpenSTL: [4, 5, 3]).
        n_strides: stride of each group's first block, 1 or 2 (OpenSTL: [1, 2, 2]).
        init_ds: initial squeeze factor, 1 or 2 (OpenSTL: 2).
        mult: bottleneck width divisor of the i-RevNet blocks (OpenSTL: 2).
        rnn_size: optional check: must equal the latent width L = C_in·init_ds²·4^(stride-2
            groups)/2.
        encoder_norm: normalisation in the i-RevNet blocks: ``"batch"`` (BatchNorm3d, OpenSTL's)
            or ``"group"`` (GroupNorm(1), per sample).

    Forward: ``(x, future_aux, t_out, truth=None, teacher_forcing=None)``
    → (B, t_out, C_out, H, W).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        out_channels: int,
        t_out: int,
        aux_channels: int = 0,
        predictor_rnn_layers: int = 8,
        n_blocks: Sequence[int] = (4, 5, 3),
        n_strides: Sequence[int] = (1, 2, 2),
        init_ds: int = 2,
        mult: int = 2,
        rnn_size: int | None = None,
        encoder_norm: str = "batch",
    ) -> None:
        super().__init__()
        t_in, c_in, h, w = check_construction(
            "crevnet", in_shape, out_channels, t_out, aux_channels
        )
        n_blocks, n_strides = [int(v) for v in n_blocks], [int(v) for v in n_strides]
        if not n_blocks or len(n_blocks) != len(n_strides) or min(n_blocks) < 1:
            raise ValueError(
                f"crevnet: n_blocks {n_blocks!r} and n_strides {n_strides!r} must be non-empty "
                "lists of equal length with blocks >= 1"
            )
        if any(s not in (1, 2) for s in n_strides) or n_strides[0] != 1:
            raise ValueError(
                f"crevnet: n_strides must be 1 or 2 and start with 1, got {n_strides!r}"
            )
        if encoder_norm not in ENCODER_NORMS:
            raise ValueError(
                f"crevnet: encoder_norm must be one of {ENCODER_NORMS}, got {encoder_norm!r}"
            )
        if init_ds not in (1, 2):
            raise ValueError(f"crevnet: init_ds must be 1 or 2, got {init_ds!r}")
        if not isinstance(predictor_rnn_layers, int) or predictor_rnn_layers < 1:
            raise ValueError(
                f"crevnet: predictor_rnn_layers must be an int >= 1, got {predictor_rnn_layers!r}"
            )
        scale = init_ds * 2 ** n_strides.count(2)
        if h % scale or w % scale:
            raise ValueError(
                f"crevnet: the encoder squeezes by {scale} (init_ds · 2 per stride 2), which must "
                f"divide H={h} and W={w} (pad the grid with data.padding.multiple)"
            )
        self.backbone_name = "crevnet"
        self.t_in, self.h, self.w = t_in, h, w
        self.out_channels, self.aux_channels, self.t_out = out_channels, aux_channels, t_out
        self.encoder = InvertibleAutoencoder(c_in, n_blocks, n_strides, init_ds, mult, encoder_norm)
        self.rnn_size = self.encoder.latent_channels
        if rnn_size is not None and rnn_size != self.rnn_size:
            raise ValueError(
                f"crevnet: rnn_size={rnn_size!r} must equal the invertible encoder's latent "
                f"width {self.rnn_size} (C_in·init_ds²·4^stride-2 groups / 2)"
            )
        self.latent_hw = (h // scale, w // scale)
        self.frame_predictor = ReversiblePredictor(self.rnn_size, predictor_rnn_layers)

    def init_state(self, batch: int, ref: torch.Tensor) -> tuple:
        """(fed window: TEMP − 1 copies of input frame 0, predictor states, zig-zag memory),
        states and memory (B, rnn_size, TEMP, *latent_hw)."""
        zeros = ref.new_zeros(batch, self.rnn_size, TEMP, *self.latent_hw)
        states = [(zeros, zeros) for _ in self.frame_predictor.convlstm]
        return [ref[:, 0]] * (TEMP - 1), states, zeros

    def step(self, net: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        """Slide the window on by the fed frame (B, C_in, H, W), encode, predict, decode: the
        decoded window (B, C_in, TEMP, H, W)."""
        fed, states, memo = state
        fed = [*fed[-(TEMP - 1) :], net]
        latent = self.encoder.encode(torch.stack(fed, dim=2))
        latent, states, memo = self.frame_predictor(latent, states, memo)
        return self.encoder.decode(latent), (fed, states, memo)

    def predict(self, top: torch.Tensor) -> torch.Tensor:
        """The target channels of the window's newest frame: (B, C_out, H, W)."""
        return top[:, : self.out_channels, -1]
