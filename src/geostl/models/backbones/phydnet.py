"""PhyDNet backbone: a PhyCell branch and a ConvLSTM branch between a shared encoder and
decoder, laid out as OpenSTL's ``PhyDNet_Model`` (Le Guen & Thome, "Disentangling Physical
Dynamics from Unknown Factors for Unsupervised Video Prediction", CVPR 2020).

Structure (OpenSTL layout; widths fixed in OpenSTL's code are the defaults here):

- encoder E on the frame (C_in, H, W): 3×3 conv blocks (conv + GroupNorm(16) + LeakyReLU(0.2))
  C_in → w/2 (stride 2), w/2 → w/2, w/2 → w (stride p/2): latent (w, H/p, W/p), p = 2 or 4;
- two specific encoders E_p (physics) and E_r (residual), two stride-1 blocks w → w each;
- PhyCell (:class:`~.phydnet_cells.PhyCellCell`, 1 layer, 49 filters 7×7) on E_p's output and
  a 3-layer ConvLSTM (hidden 128, 128, 64, 3×3) on E_r's output;
- two specific decoders D_p, D_r (two stride-1 transposed blocks w → w each) on the top states;
  their sum goes through the shared decoder D: transposed blocks w → w/2 (stride 2),
  w/2 → w/2, then ``readout``, a 3×3 transposed conv w/2 → C_out (stride p/2), and a sigmoid
  (``output_sigmoid``; OpenSTL's frames are in [0, 1]; turn it off for z-scored fields or
  ``residual: last``).

Rollout: T_in + t_out − 1 steps, as the other recurrent backbones: steps 0 … T_in − 2 read
input frames (OpenSTL's encoding phase), the step fed with frame T_in − 1 forecasts future
frame 0, and future frame k is fed back as cat(own output or truth, future_aux[k]) (teacher
forcing per sample and step; OpenSTL draws it once per sequence).

Moment constraint: in training, ``aux_losses["moment"]`` = ``moment_weight`` ·
Σ_{b < w} mean_q,i,j (M·W[q, b]·Mᵀ − E_q)², the loss OpenSTL adds for the PhyCell's first
convolution W (49, w, 7, 7): filter q's moment matrix is asked to be the one-hot E_q at
(q // 7, q % 7). OpenSTL also decodes each branch alone through D for visualisation; those
outputs are never used and are not computed here.

Parameters (OpenSTL's configuration, any grid, C_in = C_out = 1): 3 091 732 (OpenSTL: 3.09 M).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from geostl.models.backbones._contract import check_construction
from geostl.models.backbones._rollout import RecurrentRollout
from geostl.models.backbones.phydnet_cells import (
    PhyCellCell,
    PhyDConvLSTMCell,
    moment_matrix,
    moment_targets,
)
from geostl.models.registry import BACKBONES


def _down(nin: int, nout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(nin, nout, 3, stride=stride, padding=1),
        nn.GroupNorm(16, nout),
        nn.LeakyReLU(0.2),
    )


def _up(nin: int, nout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(nin, nout, 3, stride=stride, padding=1, output_padding=stride - 1),
        nn.GroupNorm(16, nout),
        nn.LeakyReLU(0.2),
    )


@BACKBONES.register("phydnet")
class PhyDNet(RecurrentRollout):
    """PhyCell + ConvLSTM forecaster with the moment constraint.

    Args:
        in_shape: (T_in, C_in, H, W), C_in = out_channels + aux_channels.
        out_channels: C_out (first in x).
        t_out: default forecast length (any t_out can be asked at call time).
        aux_channels: A, auxiliary channels after the targets.
        patch_size: total encoder downsampling, 2 or 4 (OpenSTL MMNIST: 4, weather: 2); H and
            W must be divisible by it.
        width: latent channels w (OpenSTL: 64; a multiple of 32 for the GroupNorms).
        phycell_hidden: filters of each PhyCell layer's F (OpenSTL: [49]).
        phycell_kernel: size of F's filters (OpenSTL: 7); the moment loss uses k² filters.
        convlstm_hidden: ConvLSTM widths (OpenSTL: [128, 128, 64]); the last one must be w.
        convlstm_kernel: ConvLSTM kernel (OpenSTL: 3).
        output_sigmoid: sigmoid on the output (OpenSTL).
        moment_weight: weight of ``aux_losses["moment"]`` (OpenSTL: 1).

    Forward: ``(x, future_aux, t_out, truth=None, teacher_forcing=None)``
    → (B, t_out, C_out, H, W).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        out_channels: int,
        t_out: int,
        aux_channels: int = 0,
        patch_size: int = 4,
        width: int = 64,
        phycell_hidden: Sequence[int] = (49,),
        phycell_kernel: int = 7,
        convlstm_hidden: Sequence[int] = (128, 128, 64),
        convlstm_kernel: int = 3,
        output_sigmoid: bool = True,
        moment_weight: float = 1.0,
    ) -> None:
        super().__init__()
        t_in, c_in, h, w = check_construction(
            "phydnet", in_shape, out_channels, t_out, aux_channels
        )
        if patch_size not in (2, 4) or h % patch_size or w % patch_size:
            raise ValueError(
                f"phydnet: patch_size={patch_size!r} must be 2 or 4 and divide H={h} and W={w} "
                "(pad the grid with data.padding.multiple)"
            )
        if not isinstance(width, int) or width < 32 or width % 32:
            raise ValueError(f"phydnet: width must be a positive multiple of 32, got {width!r}")
        phy = [int(n) for n in phycell_hidden]
        if not phy or any(n < 1 or n % 7 for n in phy):
            raise ValueError(
                f"phydnet: phycell_hidden must list multiples of 7 (GroupNorm(7)), got {phy!r}"
            )
        if phycell_kernel % 2 == 0 or phy[0] != phycell_kernel**2:
            raise ValueError(
                f"phydnet: phycell_kernel must be odd with phycell_hidden[0] = kernel² filters "
                f"for the moment constraint, got kernel {phycell_kernel!r}, hidden {phy!r}"
            )
        conv = [int(n) for n in convlstm_hidden]
        if not conv or any(n < 1 for n in conv) or conv[-1] != width:
            raise ValueError(
                f"phydnet: convlstm_hidden must be positive with the last equal to width={width}, "
                f"got {convlstm_hidden!r}"
            )
        if convlstm_kernel % 2 == 0:
            raise ValueError(f"phydnet: convlstm_kernel must be odd, got {convlstm_kernel!r}")
        self.backbone_name = "phydnet"
        self.t_in, self.h, self.w = t_in, h, w
        self.out_channels, self.aux_channels, self.t_out = out_channels, aux_channels, t_out
        self.width, self.latent_hw = width, (h // patch_size, w // patch_size)
        self.output_sigmoid, self.moment_weight = bool(output_sigmoid), float(moment_weight)
        nf, s2 = width // 2, patch_size // 2
        self.encoder = nn.Sequential(_down(c_in, nf, 2), _down(nf, nf, 1), _down(nf, width, s2))
        self.encoder_p = nn.Sequential(_down(width, width, 1), _down(width, width, 1))
        self.encoder_r = nn.Sequential(_down(width, width, 1), _down(width, width, 1))
        self.decoder_p = nn.Sequential(_up(width, width, 1), _up(width, width, 1))
        self.decoder_r = nn.Sequential(_up(width, width, 1), _up(width, width, 1))
        self.decoder = nn.Sequential(_up(width, nf, 2), _up(nf, nf, 1))
        self.readout = nn.ConvTranspose2d(
            nf, out_channels, 3, stride=s2, padding=1, output_padding=s2 - 1
        )
        self.phycell = nn.ModuleList(PhyCellCell(width, n, phycell_kernel) for n in phy)
        self.convcell = nn.ModuleList(
            PhyDConvLSTMCell(width if i == 0 else conv[i - 1], n, convlstm_kernel)
            for i, n in enumerate(conv)
        )
        self.register_buffer("moment_targets", moment_targets(phycell_kernel), persistent=False)

    def moment_loss(self) -> torch.Tensor:
        """Σ over the w input channels of the MSE between the moment matrices of the first
        PhyCell layer's filters (F_hidden, k, k) and their one-hot targets (OpenSTL's K2M)."""
        weight = self.phycell[0].conv1.weight  # (k², w, k, k)
        m = moment_matrix(weight.transpose(0, 1)).float()  # (w, k², k, k)
        err = (m - self.moment_targets.unsqueeze(0)) ** 2
        return err.mean(dim=(1, 2, 3)).sum()

    def _step(
        self,
        frame: torch.Tensor,
        hp: list[torch.Tensor],
        hc: list[torch.Tensor],
        cc: list[torch.Tensor],
    ) -> torch.Tensor:
        """Encode a frame (B, C_in, H, W), update both branches, decode (B, C_out, H, W)."""
        e = self.encoder(frame)
        xp, xr = self.encoder_p(e), self.encoder_r(e)
        for i, cell in enumerate(self.phycell):
            hp[i] = cell(xp if i == 0 else hp[i - 1], hp[i])
        for i, cell in enumerate(self.convcell):
            hc[i], cc[i] = cell(xr if i == 0 else hc[i - 1], hc[i], cc[i])
        out = self.readout(self.decoder(self.decoder_p(hp[-1]) + self.decoder_r(hc[-1])))
        return torch.sigmoid(out) if self.output_sigmoid else out

    def init_state(self, batch: int, ref: torch.Tensor) -> tuple:
        """Zero (PhyCell h per layer (B, width, *latent_hw), ConvLSTM h and c per layer)."""
        hp = [ref.new_zeros(batch, self.width, *self.latent_hw) for _ in self.phycell]
        hc = [ref.new_zeros(batch, c.hidden, *self.latent_hw) for c in self.convcell]
        cc = [torch.zeros_like(t) for t in hc]
        return hp, hc, cc

    def step(self, net: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        """One step on the frame (B, C_in, H, W): the decoded forecast (B, C_out, H, W) is both
        top state and output."""
        return self._step(net, *state), state

    def predict(self, top: torch.Tensor) -> torch.Tensor:
        """:meth:`step` already decodes: the identity."""
        return top

    def finish_rollout(
        self, pred: torch.Tensor, truth: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """``{"moment": moment_weight · moment_loss()}`` in training mode, else empty."""
        if self.training and self.moment_weight:
            return {"moment": self.moment_weight * self.moment_loss()}
        return {}
