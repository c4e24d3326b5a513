"""E3D-LSTM backbone, laid out as OpenSTL's ``E3DLSTM_Model`` (Wang et al., ICLR 2019, "Eidetic
3D LSTM: A Model for Video Prediction and Beyond").

Structure (cell in :mod:`geostl.models.backbones.e3dlstm_cell`):

- frames are space-to-depth patched, (B, T, C, H, W) → (B, T, p²·C, H/p, W/p);
- at every step the first layer reads a clip of the last ``window_length`` frames fed in (the
  frame of this step and the ones before it; zeros before the first frame), shaped
  (B, p²·C, window, H/p, W/p): a sliding window with stride 1, as OpenSTL's
  ``window_length=2, window_stride=1``;
- a stack of Eidetic 3-D LSTM cells with (kt, k, k) = (``temporal_kernel``, ``filter_size``,
  ``filter_size``) kernels. Each keeps its hidden and cell state (B, hidden, window, …) and the
  list of all its earlier cell states (the eidetic history, starting with the zero initial
  state) that its recall attends to. The global memory M zig-zags through the stack (layer l
  gets layer l − 1's M of this step, layer 1 the top layer's M of the previous step);
- a bias-free ``readout`` Conv3d with kernel and stride (window, 1, 1) maps the top hidden clip
  to one frame of p²·C_out channels, then depth-to-space back to (C_out, H, W).

Rollout and scheduled sampling are ConvLSTM's: T_in + t_out − 1 steps; at a future step the
frame fed in (and so the newest frame of the clip) is cat(own previous output or, with
probability ``teacher_forcing`` per sample and step, the true frame; future_aux of that step).
With ``truth=None`` the rollout is closed-loop for any t_out: the clip then holds the model's
own recent outputs. The recall attends to all earlier steps, so a rollout costs O(steps²).

``l1_loss=True`` adds OpenSTL's extra E3D-LSTM training term, the mean absolute error of the
forecast against ``truth`` over all pixels (no mask), as ``aux_losses["l1"]`` (OpenSTL's loss
is MSE + L1, also over the warm-up reconstructions, which this contract does not produce).

Iono configuration and the seed's Table 1: the issue's configuration (hidden 4 × 128, filter 5,
patch 4, window 2, kernel 2×5×5) has 51 486 720 parameters, OpenSTL's own count. The seed's
E3D-LSTM config file (``configs/iono/e3dlstm/1channel``) sets ``patch_size = 8``; with p = 8
this class has 53 151 744 parameters and 301 G MACs, Table 1's 53.15 M and 301 G.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geostl.models.backbones._contract import check_construction
from geostl.models.backbones._rollout import RecurrentRollout
from geostl.models.backbones.e3dlstm_cell import Eidetic3DLSTMCell
from geostl.models.registry import BACKBONES


@BACKBONES.register("e3dlstm")
class E3DLSTM(RecurrentRollout):
    """Eidetic 3D LSTM with a sliding temporal window, patching and scheduled sampling.

    Args:
        in_shape: (T_in, C_in, H, W) of the input frames, C_in = out_channels + aux_channels.
        out_channels: C_out, the target channels (first in x).
        t_out: default forecast length (any t_out can be asked at call time).
        aux_channels: A, auxiliary channels after the targets in x (and in ``future_aux``).
        num_hidden: hidden channels per layer, all equal (the global memory passes through
            every layer; iono: 4 × 128).
        filter_size: odd spatial kernel size (iono: 5; OpenSTL fixes 5).
        stride: must be 1 (OpenSTL's argument).
        patch_size: space-to-depth factor p; H and W must be divisible by it (iono: 4; the
            seed's own E3D-LSTM config uses 8, see the module docstring).
        layer_norm: LayerNorm after every gate convolution (iono: False).
        window_length: frames per input clip (OpenSTL: 2).
        temporal_kernel: kernel depth in time, 1 ≤ kt ≤ window_length (OpenSTL: 2).
        openstl_quirks: reproduce OpenSTL's stale global memory and channel-first recall
            tokens (see :mod:`geostl.models.backbones.e3dlstm_cell`); counts are unchanged.
        l1_loss: add the L1 training term as ``aux_losses["l1"]`` when ``truth`` is given.

    Forward: ``(x, future_aux, t_out, truth=None, teacher_forcing=None)``
    → (B, t_out, C_out, H, W).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        out_channels: int,
        t_out: int,
        aux_channels: int = 0,
        num_hidden: Sequence[int] = (128, 128, 128, 128),
        filter_size: int = 5,
        stride: int = 1,
        patch_size: int = 4,
        layer_norm: bool = False,
        window_length: int = 2,
        temporal_kernel: int = 2,
        openstl_quirks: bool = False,
        l1_loss: bool = False,
    ) -> None:
        super().__init__()
        name = "e3dlstm"
        t_in, c_in, h, w = check_construction(name, in_shape, out_channels, t_out, aux_channels)
        hidden = [int(n) for n in num_hidden]
        if not hidden or len(set(hidden)) != 1 or hidden[0] < 1:
            raise ValueError(
                f"{name}: num_hidden must list equal positive ints (the global memory passes "
                f"through every layer), got {num_hidden!r}"
            )
        if not isinstance(filter_size, int) or filter_size < 1 or filter_size % 2 == 0:
            raise ValueError(f"{name}: filter_size must be a positive odd int, got {filter_size!r}")
        if stride != 1:
            raise ValueError(f"{name}: stride must be 1, got {stride!r}")
        if not isinstance(patch_size, int) or patch_size < 1 or h % patch_size or w % patch_size:
            raise ValueError(
                f"{name}: patch_size={patch_size!r} must be a positive int dividing H={h} and "
                f"W={w} (pad the grid with data.padding.multiple or pick another patch_size)"
            )
        if not isinstance(window_length, int) or window_length < 1:
            raise ValueError(f"{name}: window_length must be an int >= 1, got {window_length!r}")
        if not isinstance(temporal_kernel, int) or not 1 <= temporal_kernel <= window_length:
            raise ValueError(
                f"{name}: temporal_kernel must be an int in [1, window_length={window_length}], "
                f"got {temporal_kernel!r}"
            )
        self.t_in, self.h, self.w = t_in, h, w
        self.out_channels, self.aux_channels, self.t_out = out_channels, aux_channels, t_out
        self.backbone_name = name
        self.patch_size = self.frame_patch = patch_size
        self.window_length = window_length
        self.num_hidden = hidden
        self.l1_loss = bool(l1_loss)
        hp, wp = h // patch_size, w // patch_size
        frame_in = patch_size * patch_size * c_in
        kernel = (temporal_kernel, filter_size, filter_size)
        self.cells = nn.ModuleList(
            Eidetic3DLSTMCell(
                frame_in if i == 0 else hidden[i - 1],
                n,
                window_length,
                hp,
                wp,
                kernel,
                bool(layer_norm),
                bool(openstl_quirks),
            )
            for i, n in enumerate(hidden)
        )
        self.readout = nn.Conv3d(
            hidden[-1],
            patch_size * patch_size * out_channels,
            kernel_size=(window_length, 1, 1),
            stride=(window_length, 1, 1),
            bias=False,
        )

    def init_state(self, batch: int, ref: torch.Tensor) -> tuple:
        """Zero (h per layer, c per layer, c-histories, global memory, fed window), h/c/memory
        (B, hidden, window, H/p, W/p); the window starts with window − 1 zero frames."""
        n, win, hp, wp = self.num_hidden[0], self.window_length, *ref.shape[-2:]
        hs = [ref.new_zeros(batch, n, win, hp, wp) for _ in self.cells]
        cs = [ref.new_zeros(batch, n, win, hp, wp) for _ in self.cells]
        histories: list[list[torch.Tensor]] = [[] for _ in self.cells]
        memory = ref.new_zeros(batch, n, win, hp, wp)
        fed = [torch.zeros_like(ref[:, 0]) for _ in range(win - 1)]
        return hs, cs, histories, memory, fed

    def step(self, net: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        """Slide the window on by the fed frame (B, p²·C_in, H/p, W/p), run the stack; the top
        h (B, hidden, window, H/p, W/p)."""
        hs, cs, histories, memory, fed = state
        fed = [*fed, net][-self.window_length :]
        inp = torch.stack(fed, dim=2)  # (B, p²·C_in, window, hp, wp), oldest first
        for i, cell in enumerate(self.cells):
            histories[i].append(cs[i])
            below = inp if i == 0 else hs[i - 1]
            hs[i], cs[i], memory = cell(below, hs[i], cs[i], memory, histories[i])
        return hs[-1], (hs, cs, histories, memory, fed)

    def predict(self, top: torch.Tensor) -> torch.Tensor:
        """Temporal readout of the top h: (B, p²·C_out, H/p, W/p)."""
        return self.readout(top).squeeze(2)

    def finish_rollout(
        self, pred: torch.Tensor, truth: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """``{"l1": mean |pred − truth|}`` with ``l1_loss`` and a truth, else empty."""
        if self.l1_loss and truth is not None:
            return {"l1": (pred - truth).abs().mean()}
        return {}
