"""SVQ, sparse (soft) vector quantisation (seed 003; spec ``seed-methods.md`` §2.2).

For each latent vector x ∈ ℝ^D, with codebook size K and hidden width m (m := K when K < m):

- code weights w = g_out(W₂ · g_hid(W₁x + b₁) + b₂) ∈ ℝ^K, W₁ ∈ ℝ^{m×D}, W₂ ∈ ℝ^{K×m};
  g_hid = ReLU when ``hid_relu`` (default) else identity, g_out = ReLU when ``out_relu`` else
  identity (default). ``nonlinear=False``: w = Wx + b with W ∈ ℝ^{K×D};
- output q = Eᵀw ∈ ℝ^D, codebook E ∈ ℝ^{K×D} (one codeword per row); q replaces x (no residual).

No auxiliary loss. ``freeze_codebook`` keeps E as a buffer (not a parameter, never trained);
``freeze_projection`` does the same with the MLP weights (codebook learnable);
``freeze_both`` freezes both. Frozen tensors are buffers, so they are saved in checkpoints but
not counted by ``parameters()``.

Parameters for D = 32, K = 10 000, m = 128: MLP 32·128 + 128 = 4 224 and 128·10 000 + 10 000
= 1 290 000; codebook 320 000 (when learnable).
"""

from __future__ import annotations

import torch
from torch import nn

from geostl.models.quantisers.codebook_init import init_codebook
from geostl.models.registry import QUANTISERS


def _freeze(module: nn.Module) -> None:
    """Turn every parameter of ``module`` (and its children) into a buffer of the same name."""
    for sub in module.modules():
        for name, param in list(sub.named_parameters(recurse=False)):
            del sub._parameters[name]
            sub.register_buffer(name, param.detach().clone())


@QUANTISERS.register("svq")
class SVQ(nn.Module):
    """Sparse vector quantisation of latent maps.

    Args:
        dim: D, the latent width (SimVP's hid_S).
        codebook_size: K (seed: 10 000).
        hidden: m, the MLP hidden width (seed: 128); K is used when K < m.
        nonlinear: two-layer MLP (True) or one linear layer (False).
        hid_relu: ReLU after the hidden layer (the seed default True).
        out_relu: ReLU on the code weights (the seed default False).
        freeze_codebook: E is a fixed random buffer.
        freeze_projection: the MLP is a fixed random buffer, E learnable.
        freeze_both: both fixed (overrides the two flags above).
        init_method: codebook initialisation, see :mod:`.codebook_init` (seed default
            ``normal``; most seed configs ``kaiming``).

    Forward: z (N, D, h, w) → (q (N, D, h, w), {"code_weights": (N, h, w, K)}).
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int = 10_000,
        hidden: int = 128,
        nonlinear: bool = True,
        hid_relu: bool = True,
        out_relu: bool = False,
        freeze_codebook: bool = False,
        freeze_projection: bool = False,
        freeze_both: bool = False,
        init_method: str = "normal",
    ) -> None:
        super().__init__()
        for key, value in (("dim", dim), ("codebook_size", codebook_size), ("hidden", hidden)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"svq: {key} must be a positive int, got {value!r}")
        self.dim, self.codebook_size = dim, codebook_size
        self.hidden = min(hidden, codebook_size)
        self.nonlinear = bool(nonlinear)
        if self.nonlinear:
            self.projection: nn.Module = nn.Sequential(
                nn.Linear(dim, self.hidden),
                nn.ReLU() if hid_relu else nn.Identity(),
                nn.Linear(self.hidden, codebook_size),
            )
        else:
            self.projection = nn.Linear(dim, codebook_size)
        self.out_act: nn.Module = nn.ReLU() if out_relu else nn.Identity()
        codebook = init_codebook(codebook_size, dim, init_method)
        self.freeze_codebook = bool(freeze_codebook or freeze_both)
        self.freeze_projection = bool(freeze_projection or freeze_both)
        if self.freeze_codebook:
            self.register_buffer("codebook", codebook)
        else:
            self.codebook = nn.Parameter(codebook)
        if self.freeze_projection:
            _freeze(self.projection)

    def code_weights(self, x: torch.Tensor) -> torch.Tensor:
        """w for vectors x (..., D) → (..., K)."""
        return self.out_act(self.projection(x))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Quantise every pixel vector of z (N, D, h, w); returns (q, {"code_weights": w})."""
        if z.dim() != 4 or z.shape[1] != self.dim:
            raise ValueError(f"svq: expected a latent (N, {self.dim}, h, w), got {tuple(z.shape)}")
        x = z.permute(0, 2, 3, 1)
        w = self.code_weights(x)
        q = w @ self.codebook.to(w.dtype)
        return q.permute(0, 3, 1, 2).contiguous(), {"code_weights": w}
