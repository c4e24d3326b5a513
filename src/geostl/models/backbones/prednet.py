"""PredNet backbone: a stack of predictive-coding modules, laid out as OpenSTL's
``PredNet_Model`` (Lotter, Kreiman & Cox, "Deep Predictive Coding Networks for Video
Prediction and Unsupervised Learning", ICLR 2017).

Every layer l of L holds a representation ConvLSTM R_l (gates i, f, o: hard sigmoid
clip(0.2·z + 0.5, 0, 1); candidate and output: tanh), a prediction convolution
Â_l = ReLU(conv(R_l)), a target A_l (A_0 is the input frame,
A_{l+1} = maxpool2(ReLU(conv(E_l)))) and error units E_l = [ReLU(A_l − Â_l); ReLU(Â_l − A_l)].
One time step is the paper's order: a top-down pass
updates R_l from cat(R_l, E_l, upsample2(R_{l+1})) from the top layer down, then a bottom-up
pass computes Â_l, the targets and the errors. The frame prediction is the lowest layer's Â_0,
computed before the frame it predicts is seen.

Here a step consumes frame t (bottom-up pass against the Â computed before it) and then runs the
top-down pass, whose Â_0 predicts frame t + 1; one top-down pass from zero states precedes the
first frame, as OpenSTL's first step does. T_in + t_out − 1 steps, future frame k fed at step
T_in + k as cat(own output or truth, future_aux[k]); inference is closed-loop (the target
channels' lowest-layer error then vanishes). OpenSTL's extrapolation, like the original Keras
PredNet, instead feeds at step t the prediction made at step t − 1, of frame t − 1 (a one-frame
lag the contract does not keep).

MACs (64×64, C 1): the opening top-down pass 722 423 808, each step 838 029 312 (the same as
OpenSTL's step), so 10 → 10 is 16.64 G. OpenSTL's counter feeds PredNet one frame (one step);
its published figures match T_in steps (TaxiBJ 4 × 211 636 224 = 0.847 G, table 0.85 G; Moving
MNIST 10 steps 8.38 G, table 8.6 G).

Â_0 is split in two convolutions with the same weights count as one R_0 → C_in conv:
``readout`` (R_0 → C_out, the forecast) and, with auxiliary channels, ``ahat_aux`` (R_0 → A,
the auxiliary channels' prediction, used only in the errors). OpenSTL applies ReLU and a clamp
at ``pixel_max`` to Â_0 (pixels in [0, 1]); geostl's fields are normalised to zero mean, so
that is off by default (``openstl_frame_activation=True`` restores it). OpenSTL trains PredNet
on its error units (layer weights L0); here the Forecaster's loss on the forecast applies and
``aux_losses`` stays empty.

Parameters at OpenSTL's MMNIST configuration (64×64, C 1, stack sizes (1, 32, 64, 128, 256),
all kernels 3): 12 510 842 (published: 12.5 M).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from geostl.models.backbones._contract import check_construction
from geostl.models.backbones._rollout import RecurrentRollout
from geostl.models.registry import BACKBONES


def hard_sigmoid(z: torch.Tensor) -> torch.Tensor:
    """Keras' hard sigmoid, clip(0.2·z + 0.5, 0, 1) (PredNet's LSTM gate activation)."""
    return torch.clamp(0.2 * z + 0.5, 0.0, 1.0)


def _odd_sizes(name: str, sizes: Sequence[int], n: int) -> list[int]:
    out = [int(k) for k in sizes]
    if len(out) != n or any(k < 1 or k % 2 == 0 for k in out):
        raise ValueError(f"prednet: {name} must list {n} positive odd kernel sizes, got {sizes!r}")
    return out


@BACKBONES.register("prednet")
class PredNet(RecurrentRollout):
    """Deep predictive coding network with scheduled sampling.

    Args:
        in_shape: (T_in, C_in, H, W), C_in = out_channels + aux_channels; H and W must be
            divisible by 2**(L − 1).
        out_channels: C_out, the target channels (first in x).
        t_out: default forecast length (any t_out can be asked at call time).
        aux_channels: A, auxiliary channels after the targets.
        stack_sizes: channels of A_l / Â_l for layers 1..L−1 (layer 0 has C_in; OpenSTL's
            tuple without its first entry; default (32, 64, 128, 256)).
        R_stack_sizes: channels of R_l for all L layers (default (C_in, 32, 64, 128, 256)
            as OpenSTL's ``R_stack_sizes = stack_sizes``).
        A_filt_sizes: L − 1 kernel sizes of the target convolutions.
        Ahat_filt_sizes: L kernel sizes of the prediction convolutions.
        R_filt_sizes: L kernel sizes of the representation ConvLSTMs.
        openstl_frame_activation: apply OpenSTL's ReLU and clamp at ``pixel_max`` to Â_0.
        pixel_max: the clamp of ``openstl_frame_activation``.

    Forward: ``(x, future_aux, t_out, truth=None, teacher_forcing=None)``
    → (B, t_out, C_out, H, W).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        out_channels: int,
        t_out: int,
        aux_channels: int = 0,
        stack_sizes: Sequence[int] = (32, 64, 128, 256),
        R_stack_sizes: Sequence[int] | None = None,  # noqa: N803 (OpenSTL's name)
        A_filt_sizes: Sequence[int] | None = None,  # noqa: N803
        Ahat_filt_sizes: Sequence[int] | None = None,  # noqa: N803
        R_filt_sizes: Sequence[int] | None = None,  # noqa: N803
        openstl_frame_activation: bool = False,
        pixel_max: float = 1.0,
    ) -> None:
        super().__init__()
        t_in, c_in, h, w = check_construction(
            "prednet", in_shape, out_channels, t_out, aux_channels
        )
        stack = [c_in] + [int(s) for s in stack_sizes]
        if any(s < 1 for s in stack):
            raise ValueError(f"prednet: stack_sizes must be positive, got {stack_sizes!r}")
        n = len(stack)
        r_stack = list(stack) if R_stack_sizes is None else [int(s) for s in R_stack_sizes]
        if len(r_stack) != n or any(s < 1 for s in r_stack):
            raise ValueError(
                f"prednet: R_stack_sizes must list {n} positive widths (one per layer), "
                f"got {R_stack_sizes!r}"
            )
        a_k = _odd_sizes("A_filt_sizes", A_filt_sizes or [3] * (n - 1), n - 1)
        ahat_k = _odd_sizes("Ahat_filt_sizes", Ahat_filt_sizes or [3] * n, n)
        r_k = _odd_sizes("R_filt_sizes", R_filt_sizes or [3] * n, n)
        scale = 2 ** (n - 1)
        if h % scale or w % scale:
            raise ValueError(
                f"prednet: H={h} and W={w} must be divisible by 2**(layers − 1) = {scale} "
                "(pad the grid with data.padding.multiple or use fewer stack_sizes)"
            )
        self.backbone_name = "prednet"
        self.t_in, self.h, self.w = t_in, h, w
        self.out_channels, self.aux_channels, self.t_out = out_channels, aux_channels, t_out
        self.stack, self.r_stack = stack, r_stack
        self.openstl_frame_activation, self.pixel_max = openstl_frame_activation, pixel_max
        self.r_convs = nn.ModuleList()
        for l in range(n):  # noqa: E741
            cin = 2 * stack[l] + r_stack[l] + (r_stack[l + 1] if l < n - 1 else 0)
            self.r_convs.append(nn.Conv2d(cin, 4 * r_stack[l], r_k[l], padding=r_k[l] // 2))
        self.ahat_convs = nn.ModuleList(
            nn.Conv2d(r_stack[l], stack[l], ahat_k[l], padding=ahat_k[l] // 2)
            for l in range(1, n)  # noqa: E741
        )
        self.a_convs = nn.ModuleList(
            nn.Conv2d(2 * stack[l], stack[l + 1], a_k[l], padding=a_k[l] // 2)
            for l in range(n - 1)  # noqa: E741
        )
        self.readout = nn.Conv2d(r_stack[0], out_channels, ahat_k[0], padding=ahat_k[0] // 2)
        if aux_channels:
            self.ahat_aux = nn.Conv2d(r_stack[0], aux_channels, ahat_k[0], padding=ahat_k[0] // 2)

    def _top_down(
        self, r: list[torch.Tensor], c: list[torch.Tensor], e: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        """Update every R_l, c_l (in place, top layer first); return the new Â_l per layer.

        Shapes: R_l, c_l (B, R_l, H/2^l, W/2^l); E_l (B, 2·A_l, H/2^l, W/2^l).
        """
        n = len(self.stack)
        r_up: torch.Tensor | None = None
        for l in reversed(range(n)):  # noqa: E741
            parts = [r[l], e[l]] + ([r_up] if r_up is not None else [])
            gi, gf, go, gc = self.r_convs[l](torch.cat(parts, dim=1)).chunk(4, dim=1)
            c[l] = hard_sigmoid(gf) * c[l] + hard_sigmoid(gi) * torch.tanh(gc)
            r[l] = hard_sigmoid(go) * torch.tanh(c[l])
            r_up = F.interpolate(r[l], scale_factor=2, mode="nearest") if l > 0 else None
        frame = self.readout(r[0])
        if self.aux_channels:
            frame = torch.cat([frame, self.ahat_aux(r[0])], dim=1)
        if self.openstl_frame_activation:
            frame = torch.clamp(F.relu(frame), max=self.pixel_max)
        return [frame] + [F.relu(conv(r[l + 1])) for l, conv in enumerate(self.ahat_convs)]  # noqa: E741

    def _bottom_up(self, frame: torch.Tensor, ahat: list[torch.Tensor]) -> list[torch.Tensor]:
        """Errors E_l = [ReLU(A_l − Â_l); ReLU(Â_l − A_l)] with A_0 = frame (B, C_in, H, W)."""
        errors = []
        a = frame
        for l, pred in enumerate(ahat):  # noqa: E741
            errors.append(torch.cat([F.relu(a - pred), F.relu(pred - a)], dim=1))
            if l < len(self.a_convs):
                a = F.max_pool2d(F.relu(self.a_convs[l](errors[l])), 2)
        return errors

    def init_state(self, batch: int, ref: torch.Tensor) -> tuple:
        """(R, C, E per level, zero; the first top-down pass's predictions Â per level)."""
        r, c, e = [], [], []
        for l, (sa, sr) in enumerate(zip(self.stack, self.r_stack, strict=True)):  # noqa: E741
            hw = (self.h // 2**l, self.w // 2**l)
            r.append(ref.new_zeros(batch, sr, *hw))
            c.append(ref.new_zeros(batch, sr, *hw))
            e.append(ref.new_zeros(batch, 2 * sa, *hw))
        return r, c, self._top_down(r, c, e)

    def step(self, net: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        """Bottom-up errors of the frame (B, C_in, H, W) against Â, then the top-down pass:
        the new Â_0 (B, C_in, H, W)."""
        r, c, ahat = state
        e = self._bottom_up(net, ahat)
        ahat = self._top_down(r, c, e)
        return ahat[0], (r, c, ahat)

    def predict(self, top: torch.Tensor) -> torch.Tensor:
        """The target channels of Â_0: (B, C_out, H, W)."""
        return top[:, : self.out_channels]
