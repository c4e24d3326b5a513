"""Adapter to the VQ baselines of ``vector-quantize-pytorch`` (optional extra ``vq``; the
SVQ paper's VQ baselines, Pachark/SVQ-Forecasting).

The seed pinned vector-quantize-pytorch 1.12.5; this adapter is written against the API of the
version our ``vq`` extra installs (>= 1.14, tested with 1.32.0). The latent (N, D, h, w) is
flattened to tokens (N, h·w, D), quantised and reshaped back; LFQ gets the 4-D map directly
(channel first), as in the seed. The library's auxiliary loss (commitment / entropy), reduced
by its mean over quantisers and groups, is returned as ``info["loss_vq"]``; ResidualFSQ has
none, so its ``info`` is empty.

``vq_type`` → library class and the seed's settings (``VQ_SETTINGS``; ``settings`` overrides
single keys with the library's own keyword names):

=========  ===================  ==================================================
vq         VectorQuantize       K 1024, EMA decay 0.8, commitment weight 1
mhvq       VectorQuantize       8 heads, codebook_dim 32, shared codebook, K 1024
rvq        ResidualVQ           8 quantizers, K 1024, shared codebook
srvq       ResidualVQ           rvq with stochastic code sampling at temperature 0.1
grvq       GroupedResidualVQ    2 groups × 8 quantizers, K 1024, shared codebook
rfsq       ResidualFSQ          levels [8, 5, 5, 3] (600 codes), 8 quantizers
lfq        LFQ                  K 8192, entropy-loss weight 0.1, diversity γ 1
rlfq       ResidualLFQ          K 256, 8 quantizers
=========  ===================  ==================================================
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from geostl.models.registry import QUANTISERS

VQ_SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "vq": ("VectorQuantize", {"codebook_size": 1024, "decay": 0.8, "commitment_weight": 1.0}),
    "mhvq": (
        "VectorQuantize",
        {
            "codebook_size": 1024,
            "heads": 8,
            "codebook_dim": 32,
            "separate_codebook_per_head": False,
        },
    ),
    "rvq": ("ResidualVQ", {"num_quantizers": 8, "codebook_size": 1024, "shared_codebook": True}),
    "srvq": (
        "ResidualVQ",
        {
            "num_quantizers": 8,
            "codebook_size": 1024,
            "shared_codebook": True,
            "stochastic_sample_codes": True,
            "sample_codebook_temp": 0.1,
        },
    ),
    "grvq": (
        "GroupedResidualVQ",
        {"groups": 2, "num_quantizers": 8, "codebook_size": 1024, "shared_codebook": True},
    ),
    "rfsq": ("ResidualFSQ", {"levels": [8, 5, 5, 3], "num_quantizers": 8}),
    "lfq": ("LFQ", {"codebook_size": 8192, "entropy_loss_weight": 0.1, "diversity_gamma": 1.0}),
    "rlfq": ("ResidualLFQ", {"codebook_size": 256, "num_quantizers": 8}),
}

_CHANNEL_FIRST = {"lfq"}


def _library() -> Any:
    try:
        return importlib.import_module("vector_quantize_pytorch")
    except ImportError as err:
        raise ImportError(
            "quantiser 'library_vq' needs the optional package vector-quantize-pytorch: "
            "pip install 'geostl[vq]'"
        ) from err


@QUANTISERS.register("library_vq")
class LibraryVQ(nn.Module):
    """A vector-quantize-pytorch quantiser chosen by the seed's ``vq_type``.

    Args:
        dim: D, the latent width (SimVP's hid_S).
        vq_type: one of ``VQ_SETTINGS`` (vq, mhvq, rvq, srvq, grvq, rfsq, lfq, rlfq).
        settings: keyword overrides passed to the library class on top of the seed's settings.

    Forward: z (N, D, h, w) → (q (N, D, h, w), {"loss_vq": scalar} or {} for rfsq).
    """

    def __init__(self, dim: int, vq_type: str = "vq", settings: Mapping[str, Any] | None = None):
        super().__init__()
        if vq_type not in VQ_SETTINGS:
            raise ValueError(
                f"library_vq: vq_type must be one of {sorted(VQ_SETTINGS)}, got {vq_type!r}"
            )
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"library_vq: dim must be a positive int, got {dim!r}")
        class_name, defaults = VQ_SETTINGS[vq_type]
        kwargs = {**defaults, **dict(settings or {})}
        if vq_type in _CHANNEL_FIRST:
            kwargs.setdefault("channel_first", True)
        cls = getattr(_library(), class_name)
        try:
            self.quantiser = cls(dim=dim, **kwargs)
        except TypeError as err:
            raise TypeError(f"library_vq ({vq_type} → {class_name}): {err}") from None
        self.dim, self.vq_type = dim, vq_type

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Quantise z (N, D, h, w); returns (q, info) with the mean auxiliary loss if any."""
        if z.dim() != 4 or z.shape[1] != self.dim:
            raise ValueError(
                f"library_vq ({self.vq_type}): expected a latent (N, {self.dim}, h, w), "
                f"got {tuple(z.shape)}"
            )
        n, d, h, w = z.shape
        if self.vq_type in _CHANNEL_FIRST:
            out = self.quantiser(z)
            q = out[0]
        else:
            tokens = z.permute(0, 2, 3, 1).reshape(n, h * w, d)
            out = self.quantiser(tokens)
            q = out[0].reshape(n, h, w, d).permute(0, 3, 1, 2).contiguous()
        info: dict[str, torch.Tensor] = {}
        if len(out) > 2 and out[2] is not None:
            info["loss_vq"] = torch.as_tensor(out[2], device=z.device).float().mean()
        return q, info
