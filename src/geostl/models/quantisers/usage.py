"""Code-usage diagnostic of SVQ (the seed's optional ``evaluate_usage``).

Our reading of "standardise w, threshold |w| at 2σ/3σ, perplexity of the usage histogram":
all code weights of a batch are standardised together, z = (w − mean(w)) / std(w); code k is
"used" by a latent vector when |z_k| > n_sigma; the histogram counts, per code, the vectors
that use it; its perplexity is exp(H) with H = −Σ p_k ln p_k, p = counts / Σ counts (K when
all codes are used equally, 1 when one code takes all uses).

:class:`UsageAccumulator` sums these histograms over the forward calls of an evaluation (each
call standardised on its own, see its docstring) and over DDP processes;
:mod:`geostl.engine.codebook_usage` feeds it from the SVQ modules of a model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from geostl.metrics.accumulator import WeightedSums


def code_usage(weights: torch.Tensor, n_sigma: float = 2.0) -> torch.Tensor:
    """Usage histogram of code weights.

    Args:
        weights: (..., K) code weights w of any number of latent vectors.
        n_sigma: threshold on |standardised w| (the seed reports 2 and 3).

    Returns:
        (K,) float64 counts: for each code, the number of vectors with |z_k| > n_sigma.
    """
    if weights.dim() < 1 or weights.numel() < 2:
        raise ValueError(
            f"code_usage: weights must be (..., K) with >= 2 values, got {tuple(weights.shape)}"
        )
    w = weights.detach().to(torch.float64).reshape(-1, weights.shape[-1])
    std = w.std()
    if not torch.isfinite(std) or std == 0:
        raise ValueError("code_usage: the code weights have zero or non-finite spread")
    z = (w - w.mean()) / std
    return (z.abs() > n_sigma).sum(dim=0).to(torch.float64)


def perplexity(counts: torch.Tensor) -> float:
    """exp(entropy) of a usage histogram ``counts`` (K,), non-negative, not all zero."""
    c = counts.detach().to(torch.float64).reshape(-1)
    if (c < 0).any() or c.sum() <= 0:
        raise ValueError("perplexity: counts must be non-negative with a positive sum")
    p = c / c.sum()
    nz = p[p > 0]
    return float(torch.exp(-(nz * nz.log()).sum()))


#: thresholds the evaluation reports (the seed's 2σ and 3σ)
N_SIGMAS = (2.0, 3.0)

STANDARDISATION_NOTE = (
    "code weights standardised per forward call of the SVQ module (one evaluation batch, one "
    "autoregressive block) with the mean and sample std of all K x N weights of that call, as "
    "code_usage does; a code counts once per latent vector whose |z| exceeds the threshold; "
    "the counts are summed over calls and processes (so they depend on eval.batch_size and on "
    "how the windows are sharded over processes)"
)


def _bounds(
    mean: torch.Tensor, std: torch.Tensor, n_sigma: float, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(lo, hi)`` in ``dtype`` with, for every w of that dtype, w > hi ⇔ w > mean + nσ and
    w < lo ⇔ w < mean − nσ (the float64 bounds rounded inwards), so a block is compared in its
    own precision without a float64 copy."""
    hi64 = (mean + n_sigma * std).to(torch.float64)
    lo64 = (mean - n_sigma * std).to(torch.float64)
    hi, lo = hi64.to(dtype), lo64.to(dtype)
    if hi.to(torch.float64) > hi64:
        hi = torch.nextafter(hi, torch.tensor(float("-inf"), dtype=dtype))
    if lo.to(torch.float64) < lo64:
        lo = torch.nextafter(lo, torch.tensor(float("inf"), dtype=dtype))
    return lo, hi


def _key(n_sigma: float) -> str:
    return f"counts/{n_sigma:g}"


class UsageAccumulator:
    """Code-usage histograms of one SVQ module summed over calls (batches) and processes.

    Standardisation is **per call**: each :meth:`update` (one forward call of the SVQ module,
    i.e. one evaluation batch, or one autoregressive block of it) standardises *its own* code
    weights with their mean and sample std, as :func:`code_usage` does for one tensor (the test
    is w outside mean ± n·std in the weights' own precision, the same as |z| > n up to float
    rounding at the boundary); the (K,) counts of the calls are then added up. So the result
    equals the sum of ``code_usage(w_call, n_sigma)`` over the calls, which in general differs
    from one ``code_usage`` on all weights concatenated (the statistics of each call differ).
    The counts are additive across calls and across DDP ranks (:meth:`all_reduce`).

    Args:
        codebook_size: K.
        n_sigmas: thresholds on |z| (default 2 and 3).

    Sums (float64, in ``self.sums``): ``counts/<n>`` (K,) per threshold, ``vectors`` (number of
    latent vectors seen), ``calls`` (calls counted) and ``calls_zero_spread`` (calls whose code
    weights had zero or non-finite spread, e.g. all equal or NaN: no standardisation possible,
    counted here and in no histogram).
    """

    def __init__(self, codebook_size: int, n_sigmas: tuple[float, ...] = N_SIGMAS) -> None:
        if not isinstance(codebook_size, int) or codebook_size < 2:
            raise ValueError(
                f"UsageAccumulator: codebook_size must be an int >= 2, got {codebook_size!r}"
            )
        if not n_sigmas or any(not (float(s) > 0) for s in n_sigmas):
            raise ValueError(
                f"UsageAccumulator: n_sigmas must be positive numbers, got {n_sigmas!r}"
            )
        self.codebook_size = codebook_size
        self.n_sigmas = tuple(float(s) for s in n_sigmas)
        self.sums = WeightedSums()
        for s in self.n_sigmas:
            self.sums.add(_key(s), torch.zeros(codebook_size, dtype=torch.float64))
        for name in ("vectors", "calls", "calls_zero_spread"):
            self.sums.add(name, torch.zeros((), dtype=torch.float64))

    def update(self, weights: torch.Tensor, chunk_vectors: int | None = None) -> None:
        """Add one call's code weights ``weights`` (..., K), standardised together."""
        if weights.dim() < 1 or weights.shape[-1] != self.codebook_size:
            raise ValueError(
                f"UsageAccumulator.update: expected code weights (..., {self.codebook_size}), "
                f"got {tuple(weights.shape)}"
            )
        flat = weights.detach().reshape(-1, self.codebook_size)
        step = chunk_vectors or max(1, 2**22 // self.codebook_size)
        self.update_chunks(lambda: flat.split(step))

    def update_chunks(
        self,
        chunks: Callable[[], Iterable[torch.Tensor]],
        moments: tuple[int, float, float] | None = None,
    ) -> None:
        """Add one call whose code weights come in row blocks ``chunks()`` of (n_i, K).

        ``chunks`` is called three times (mean, spread, counts), so the K-wide weights of a
        call never need to be held at once (e.g. for a ``factorised`` SVQ, whose forward does
        not form them). The standardisation is that of :func:`code_usage` on the whole call.
        ``moments``: ``(number of weights, mean, sample std)`` of the call when already known
        (see :func:`affine_moments`); ``chunks`` is then called once, for the counts.
        """
        if moments is None:
            n, total = 0, torch.zeros((), dtype=torch.float64)
            for block in chunks():
                b = block.detach().to(torch.float64)
                n += b.numel()
                total = total + b.sum().cpu()
            if n == 0:
                raise ValueError("UsageAccumulator.update: no code weights in this call")
            mean = total / n
            spread = torch.zeros((), dtype=torch.float64)
            for block in chunks():
                b = block.detach().to(torch.float64)
                spread = spread + ((b - mean.to(b.device)) ** 2).sum().cpu()
            std = torch.sqrt(spread / (n - 1)) if n > 1 else torch.zeros((), dtype=torch.float64)
        else:
            n = int(moments[0])
            mean = torch.tensor(float(moments[1]), dtype=torch.float64)
            std = torch.tensor(float(moments[2]), dtype=torch.float64)
        self.sums.add("vectors", float(n // self.codebook_size))
        if not torch.isfinite(std) or std == 0:
            self.sums.add("calls_zero_spread", 1.0)
            return
        counts = {s: torch.zeros(self.codebook_size, dtype=torch.float64) for s in self.n_sigmas}
        bounds: dict[torch.dtype, dict[float, tuple[torch.Tensor, torch.Tensor]]] = {}
        for block in chunks():
            b = block.detach().reshape(-1, self.codebook_size)
            if b.dtype not in (torch.float32, torch.float64):
                b = b.to(torch.float32)  # exact for half precision
            if b.dtype not in bounds:
                bounds[b.dtype] = {s: _bounds(mean, std, s, b.dtype) for s in self.n_sigmas}
            # summing 0/1 floats is faster than summing bools; float32 is exact below 2^24 rows
            exact = torch.float32 if b.shape[0] < 2**24 else torch.float64
            for s, (lo, hi) in bounds[b.dtype].items():
                outside = (b > hi.to(b.device)) | (b < lo.to(b.device))
                counts[s] += outside.to(exact).sum(dim=0).to(torch.float64).cpu()
        for s, c in counts.items():
            self.sums.add(_key(s), c)
        self.sums.add("calls", 1.0)

    def counts(self, n_sigma: float) -> torch.Tensor:
        """(K,) float64 usage histogram at threshold ``n_sigma``."""
        return self.sums[_key(float(n_sigma))]

    def all_reduce(self, group=None) -> UsageAccumulator:
        """Sum the histograms across processes (a no-op when not distributed)."""
        self.sums.all_reduce(group)
        return self

    def summary(self, histogram: bool = False) -> dict[str, Any]:
        """JSON-ready summary: K, vectors, calls and per threshold the perplexity (None when
        no code was used), the number of codes used and the total uses; ``histogram=True``
        adds the (K,) counts as a list of ints."""
        out: dict[str, Any] = {
            "codebook_size": self.codebook_size,
            "vectors": int(self.sums["vectors"].item()),
            "calls": int(self.sums["calls"].item()),
            "calls_zero_spread": int(self.sums["calls_zero_spread"].item()),
            "standardisation": STANDARDISATION_NOTE,
            "thresholds": [],
        }
        for s in self.n_sigmas:
            c = self.counts(s)
            uses = float(c.sum())
            entry: dict[str, Any] = {
                "n_sigma": s,
                "perplexity": perplexity(c) if uses > 0 else None,
                "codes_used": int((c > 0).sum()),
                "uses": int(uses),
            }
            if histogram:
                entry["histogram"] = [int(v) for v in c.tolist()]
            out["thresholds"].append(entry)
        return out


def affine_moments(
    h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> tuple[int, float, float]:
    """``(n, mean, sample std)`` of all entries of w = h·Wᵀ + b without forming w.

    Args:
        h: (N, m) inputs of the last layer; weight: (K, m) W; bias: (K,) b or None.

    With s = Σ_n h_n and G = WᵀW (m × m), in float64:
    Σ w = s·(Σ_k W_k) + N Σ_k b_k and Σ w² = Σ_n h_nᵀ G h_n + 2 s·(Wᵀb) + N |b|²; the variance
    is (Σ w² − n·mean²) / (n − 1) with n = N·K, as ``torch.std``. Cost O(N m² + K m²) instead of
    O(N K m).
    """
    h64 = h.detach().to(torch.float64)
    w64 = weight.detach().to(h64.device, torch.float64)
    n_vec, k = h64.shape[0], w64.shape[0]
    b64 = (
        torch.zeros(k, dtype=torch.float64, device=h64.device)
        if bias is None
        else bias.detach().to(h64.device, torch.float64)
    )
    n = n_vec * k
    s = h64.sum(dim=0)
    total = s @ w64.sum(dim=0) + n_vec * b64.sum()
    squares = ((h64 @ (w64.T @ w64)) * h64).sum() + 2 * s @ (w64.T @ b64) + n_vec * (b64 @ b64)
    mean = total / n
    var = (squares - n * mean * mean) / (n - 1) if n > 1 else torch.zeros((), dtype=torch.float64)
    return n, float(mean), float(torch.sqrt(torch.clamp(var, min=0.0)))
