"""SimVP backbone, laid out as OpenSTL's ``SimVP_Model`` (Gao et al. 2022; Tan et al. 2022).

Per block of T_in frames (x: (B, T_in, C_in, H, W)):

- **encoder**: N_S ConvSC layers applied to every frame (B·T_in, C_in, H, W); layer i is a 3×3
  conv (stride 2 when i is odd, so N_S // 2 halvings: 72 → 36 → 18 for N_S = 4) followed by
  GroupNorm(2) and SiLU; the first layer's output (full resolution) is kept as a skip;
- **translator** on the stacked latents (B, T_in·hid_S, h, w), chosen by ``model_type``
  (:mod:`.simvp_translators`: ``gsta`` blocks or the ``incepu`` inception U-Net);
- **decoder**: N_S ConvSC layers in the mirrored order, the upsampling ones as a conv to
  4·hid_S channels + PixelShuffle(2); the skip is added before the last layer; then a 1×1
  readout to the C_out target channels: (B, T_in, C_out, H, W).

Rollout: the model maps T_in frames to T_in frames. For another t_out it chains
ceil(t_out / T_in) blocks closed-loop, the next block's input being cat(previous block's
predicted target channels, future_aux of those frames), and keeps the first t_out frames
(so t_out need not be a multiple of T_in; t_out < T_in keeps a prefix of one block).
Gradients flow through the whole chain. ``truth`` and ``teacher_forcing`` are ignored.

``quantiser`` (the SVQ paper, Chen et al., arXiv:2312.03406): a quantiser from ``QUANTISERS``
(:mod:`geostl.models.quantisers`, e.g. ``{name: svq, codebook_size: 10000}``; ``dim`` is set to
hid_S) applied to every latent pixel vector of every frame, (B·T_in, hid_S, h, w), replacing
the latent before the translator (``post_vq=False``) or between translator and decoder
(``post_vq=True``); the decoder's skip stays the unquantised first encoder map. A quantiser's
``loss_vq``, averaged over the chained blocks, goes to ``aux_losses["loss_vq"]``.
``input_noise`` = ρ > 0: in training, a fraction ρ of the elements of x is multiplied by
U(−2, 2) (:class:`geostl.models.input_noise.InputNoise`), the seed's noise ablation.

Fusion hook (``frame_transform``, set by ``fusion: mixer``): every frame a block reads, the
input frames and the re-fed [predicted targets, future_aux] frames alike, goes through the
fusion's per-frame module, built in the raster layout, inside :meth:`SimVP.predict_block`, so the
encoder reads its ``out_channels`` (the Channel Mixer Layer: C_out + C_in; the bypass is the
block's target channels: in a chained block, the previous block's prediction).

Every ConvSC conv weight starts from a normal(0, 0.02) truncated at ±2 (OpenSTL's
``trunc_normal_``), biases 0; translator blocks use their own initialisation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from geostl.models import quantisers as _quantisers  # noqa: F401  (registers QUANTISERS)
from geostl.models.backbones._contract import check_construction, check_forward
from geostl.models.backbones.simvp_translators import build_translator
from geostl.models.input_noise import InputNoise
from geostl.models.registry import BACKBONES, QUANTISERS


class ConvSC(nn.Module):
    """k×k conv (stride 2 when ``down``; conv to 4·c_out + PixelShuffle(2) when ``up``),
    then GroupNorm(2, c_out) and SiLU."""

    def __init__(
        self, c_in: int, c_out: int, kernel_size: int, down: bool = False, up: bool = False
    ) -> None:
        super().__init__()
        stride = 2 if down else 1
        padding = (kernel_size - stride + 1) // 2
        if up:
            self.conv: nn.Module = nn.Sequential(
                nn.Conv2d(c_in, 4 * c_out, kernel_size, padding=padding), nn.PixelShuffle(2)
            )
        else:
            self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding)
        self.norm = nn.GroupNorm(2, c_out)
        self.act = nn.SiLU()
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


def _strides(n: int) -> list[bool]:
    """Which of the N_S encoder layers halve the resolution: odd-numbered ones."""
    return [i % 2 == 1 for i in range(n)]


class Encoder(nn.Module):
    """(N, C_in, H, W) → latent (N, hid, H/2^(N_S//2), W/2^(N_S//2)) and the first-layer skip."""

    def __init__(self, c_in: int, hid: int, n_layers: int, kernel_size: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            ConvSC(c_in if i == 0 else hid, hid, kernel_size, down=s)
            for i, s in enumerate(_strides(n_layers))
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skip = self.layers[0](x)
        z = skip
        for layer in self.layers[1:]:
            z = layer(z)
        return z, skip


class Decoder(nn.Module):
    """Latent (N, hid, h, w) + skip (N, hid, H, W) → (N, C_out, H, W)."""

    def __init__(self, hid: int, c_out: int, n_layers: int, kernel_size: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            ConvSC(hid, hid, kernel_size, up=s) for s in reversed(_strides(n_layers))
        )
        self.readout = nn.Conv2d(hid, c_out, 1)

    def forward(self, z: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            z = layer(z)
        return self.readout(self.layers[-1](z + skip))


@BACKBONES.register("simvp")
class SimVP(nn.Module):
    """SimVP: frame-wise CNN encoder, temporal translator, CNN decoder with a skip.

    Args:
        in_shape: (T_in, C_in, H, W), C_in = out_channels + aux_channels; H and W must be
            divisible by 2^(N_S // 2).
        out_channels: C_out, the target channels (first in x); the readout predicts only these.
        t_out: default forecast length (any t_out can be asked at call time).
        aux_channels: A, auxiliary channels after the targets in x and in ``future_aux``.
        hid_S: encoder/decoder width (iono: 64).
        hid_T: translator width (iono: 512).
        N_S: encoder and decoder depth (iono: 4).
        N_T: translator depth (iono: 8).
        model_type: translator, case-insensitive: ``gSTA`` (default) or ``IncepU``, or any
            registered translator block.
        mlp_ratio, drop, drop_path: MetaFormer block settings (OpenSTL defaults 8, 0, 0).
        spatio_kernel_enc, spatio_kernel_dec: encoder / decoder kernel sizes (3).
        frame_transform: the fusion's per-frame hook factory (set by ``fusion: mixer``).
        quantiser: None (default) or ``{name: <QUANTISERS name>, **kwargs}`` without ``dim``.
        post_vq: put the quantiser between translator and decoder instead of before the
            translator.
        input_noise: ρ of the training-time input-noise ablation (0 = off).

    Forward: ``(x, future_aux, t_out, truth=None, teacher_forcing=None)``
    → (B, t_out, C_out, H, W).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        out_channels: int,
        t_out: int,
        aux_channels: int = 0,
        hid_S: int = 64,
        hid_T: int = 512,
        N_S: int = 4,
        N_T: int = 8,
        model_type: str = "gSTA",
        mlp_ratio: float = 8.0,
        drop: float = 0.0,
        drop_path: float = 0.0,
        spatio_kernel_enc: int = 3,
        spatio_kernel_dec: int = 3,
        frame_transform: Any = None,
        quantiser: Mapping[str, Any] | None = None,
        post_vq: bool = False,
        input_noise: float = 0.0,
    ) -> None:
        super().__init__()
        t_in, c_in, h, w = check_construction("simvp", in_shape, out_channels, t_out, aux_channels)
        for key, value in (("hid_S", hid_S), ("hid_T", hid_T), ("N_S", N_S), ("N_T", N_T)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"simvp: {key} must be a positive int, got {value!r}")
        if hid_S % 2:
            raise ValueError(f"simvp: hid_S must be even (GroupNorm with 2 groups), got {hid_S}")
        factor = 2 ** (N_S // 2)
        if h % factor or w % factor:
            raise ValueError(
                f"simvp: H={h} and W={w} must be divisible by 2^(N_S//2) = {factor} for N_S={N_S} "
                "(pad the grid with data.padding.multiple, or change N_S)"
            )
        self.t_in, self.h, self.w = t_in, h, w
        self.out_channels, self.aux_channels, self.t_out = out_channels, aux_channels, t_out
        self.hid_S = hid_S
        self.model_type = str(model_type)
        self.frame_transform: nn.Module | None = None
        if frame_transform is not None:
            self.frame_transform = frame_transform(c_in, out_channels, "raster", 1, "SimVP")
            c_in = int(self.frame_transform.out_channels)
        self.encoder = Encoder(c_in, hid_S, N_S, spatio_kernel_enc)
        self.translator = build_translator(
            model_type,
            t_in * hid_S,
            hid_T,
            N_T,
            (h // factor, w // factor),
            mlp_ratio,
            drop,
            drop_path,
        )
        self.decoder = Decoder(hid_S, out_channels, N_S, spatio_kernel_dec)
        self.quantiser: nn.Module | None = None
        if quantiser is not None:
            if not isinstance(quantiser, Mapping) or not isinstance(quantiser.get("name"), str):
                raise ValueError(
                    "simvp: quantiser must be a mapping {name: <quantiser>, ...}; available: "
                    f"{QUANTISERS.available()}, got {quantiser!r}"
                )
            options = {k: v for k, v in quantiser.items() if k != "name"}
            if "dim" in options:
                raise ValueError("simvp: quantiser.dim is set from hid_S; remove it")
            self.quantiser = QUANTISERS.build(quantiser["name"], dim=hid_S, **options)
        self.post_vq = bool(post_vq)
        self.input_noise: InputNoise | None = InputNoise(input_noise) if input_noise else None
        self.aux_losses: dict[str, torch.Tensor] = {}
        self._vq_losses: list[torch.Tensor] = []

    def _quantise(self, latent: torch.Tensor) -> torch.Tensor:
        """Quantiser on (B·T, hid_S, h, w); its ``loss_vq`` is kept for ``aux_losses``."""
        assert self.quantiser is not None
        q, info = self.quantiser(latent)
        if "loss_vq" in info:
            self._vq_losses.append(info["loss_vq"])
        return q

    def predict_block(self, x: torch.Tensor) -> torch.Tensor:
        """One native block: (B, T_in, C_in, H, W) → (B, T_in, C_out, H, W) (with a fusion
        hook, each frame goes through ``frame_transform`` first)."""
        if self.frame_transform is not None:
            x = self.frame_transform(x)
        b, t, c, h, w = x.shape
        latent, skip = self.encoder(x.reshape(b * t, c, h, w))
        _, hid, hh, ww = latent.shape
        if self.quantiser is not None and not self.post_vq:
            latent = self._quantise(latent)
        z = self.translator(latent.reshape(b, t * hid, hh, ww)).reshape(b * t, hid, hh, ww)
        if self.quantiser is not None and self.post_vq:
            z = self._quantise(z)
        y = self.decoder(z, skip)
        return y.reshape(b, t, self.out_channels, h, w)

    def forward(
        self,
        x: torch.Tensor,
        future_aux: torch.Tensor | None,
        t_out: int,
        truth: torch.Tensor | None = None,
        teacher_forcing: float | None = None,
    ) -> torch.Tensor:
        """Forecast ``t_out`` frames by chaining native blocks (truth is not used)."""
        self.aux_losses = {}
        self._vq_losses = []
        check_forward(
            "simvp",
            x,
            future_aux,
            t_out,
            truth,
            teacher_forcing,
            t_in=self.t_in,
            c_out=self.out_channels,
            aux=self.aux_channels,
            hw=(self.h, self.w),
        )
        if self.input_noise is not None:
            x = self.input_noise(x)
        n_blocks = math.ceil(t_out / self.t_in)
        blocks = []
        inputs = x
        for k in range(n_blocks):
            y = self.predict_block(inputs)
            blocks.append(y)
            if k + 1 < n_blocks:
                if self.aux_channels:
                    aux = future_aux[:, k * self.t_in : (k + 1) * self.t_in]
                    inputs = torch.cat([y, aux], dim=2)
                else:
                    inputs = y
        if self._vq_losses:
            self.aux_losses = {"loss_vq": torch.stack(self._vq_losses).mean()}
            self._vq_losses = []
        return torch.cat(blocks, dim=1)[:, :t_out]
