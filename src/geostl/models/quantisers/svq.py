"""SVQ, sparse (soft) vector quantisation (the SVQ paper, Chen et al., arXiv:2312.03406).

For each latent vector x ∈ ℝ^D, with codebook size K and hidden width m (m := K when K < m):

- code weights w = g_out(W₂ · g_hid(W₁x + b₁) + b₂) ∈ ℝ^K, W₁ ∈ ℝ^{m×D}, W₂ ∈ ℝ^{K×m};
  g_hid = ReLU when ``hid_relu`` (default) else identity, g_out = ReLU when ``out_relu`` else
  identity (default). ``nonlinear=False``: w = Wx + b with W ∈ ℝ^{K×D};
- output q = Eᵀw ∈ ℝ^D, codebook E ∈ ℝ^{K×D} (one codeword per row); q replaces x (no residual).

No auxiliary loss. ``freeze_codebook`` keeps E as a buffer (not a parameter, never trained);
``freeze_projection`` does the same with the MLP weights (codebook learnable);
``freeze_both`` freezes both. Frozen tensors are buffers, so they are saved in checkpoints but
not counted by ``parameters()``.

``factorised=True`` (ours; needs ``out_relu=False``) computes the same q without the (…, K)
code weights: with the last projection layer (W, b) and its input h, q = h·(EᵀW)ᵀ + Eᵀb, the
identity of spec §2.2. Values and gradients are the same function of the same parameters (up
to float rounding), but memory and compute per vector scale with D·m instead of K·m; the
returned ``info`` then has no ``code_weights``.

Parameters for D = 32, K = 10 000, m = 128: MLP 32·128 + 128 = 4 224 and 128·10 000 + 10 000
= 1 290 000; codebook 320 000 (when learnable).
"""

from __future__ import annotations

import torch
from torch import nn

from geostl.models.quantisers.codebook_init import init_codebook
from geostl.models.quantisers.usage import code_usage, perplexity
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
        factorised: compute q through EᵀW without materialising w (see the module docstring).

    Forward: z (N, D, h, w) → (q (N, D, h, w), {"code_weights": (N, h, w, K)}) ({} when
    ``factorised``).
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
        factorised: bool = False,
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
        if factorised and out_relu:
            raise ValueError("svq: factorised=True needs out_relu=False (the identity of §2.2)")
        self.factorised = bool(factorised)
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
        if self.factorised:
            return self._factorised(x).permute(0, 3, 1, 2).contiguous(), {}
        w = self.code_weights(x)
        q = w @ self.codebook.to(w.dtype)
        return q.permute(0, 3, 1, 2).contiguous(), {"code_weights": w}

    def _factorised(self, x: torch.Tensor) -> torch.Tensor:
        """q = h·(EᵀW)ᵀ + Eᵀb for vectors x (..., D), (W, b) the last projection layer."""
        if isinstance(self.projection, nn.Sequential):
            last = self.projection[-1]
            h = self.projection[:-1](x)
        else:
            last, h = self.projection, x
        codebook = self.codebook.to(x.dtype)
        return h @ (codebook.T @ last.weight).T + codebook.T @ last.bias

    def usage_perplexity(self, z: torch.Tensor, n_sigma: float = 2.0) -> float:
        """Perplexity of the code-usage histogram of latents z (N, D, h, w) (see
        :mod:`.usage`); computed without gradients from the explicit code weights."""
        with torch.no_grad():
            w = self.code_weights(z.permute(0, 2, 3, 1))
        return perplexity(code_usage(w, n_sigma))
