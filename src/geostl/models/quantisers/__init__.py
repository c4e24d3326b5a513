"""Latent quantisers for SimVP (Chen et al. 2023); importing this package registers them in
``QUANTISERS``.

A quantiser maps a latent map (N, D, h, w) to ``(q, info)``: q (N, D, h, w) replaces the
latent and ``info`` may hold ``"loss_vq"`` (a scalar auxiliary loss, added to the training
loss) and diagnostics such as ``"code_weights"``.
"""

from geostl.models.quantisers.codebook_init import CODEBOOK_INITS, init_codebook
from geostl.models.quantisers.svq import SVQ
from geostl.models.quantisers.usage import code_usage, perplexity
from geostl.models.quantisers.vq_library import VQ_SETTINGS, LibraryVQ

__all__ = [
    "CODEBOOK_INITS",
    "SVQ",
    "VQ_SETTINGS",
    "LibraryVQ",
    "code_usage",
    "init_codebook",
    "perplexity",
]
