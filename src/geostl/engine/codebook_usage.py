"""Record the SVQ code-usage diagnostic during an evaluation pass (forward hooks).

:class:`CodebookUsageRecorder` finds every :class:`~geostl.models.quantisers.SVQ` module of
a model by walking its modules (no configuration needed), registers a forward hook on each
while it is entered as a context manager, and feeds the code weights w (N, h, w, K) that the
SVQ forward returns in ``info["code_weights"]`` to one
:class:`~geostl.models.quantisers.usage.UsageAccumulator` per module. A ``factorised`` SVQ
does not form w in its forward; the hook then takes the mean and spread of w = h·Wᵀ + b from
the last layer's input h in closed form (:func:`~geostl.models.quantisers.usage.affine_moments`)
and forms w in blocks of rows once, for the counts (never the whole (N·h·w, K) matrix). The
hooks are removed on exit, so training and later forwards are untouched.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import torch
from torch import nn

from geostl.models.quantisers.svq import SVQ
from geostl.models.quantisers.usage import N_SIGMAS, UsageAccumulator, affine_moments

__all__ = ["CodebookUsageRecorder", "find_svq_modules"]

#: about this many float64 code weights per block when w is recomputed or standardised
_BLOCK_VALUES = 2**22


def _last_layer(module: SVQ, x: torch.Tensor) -> tuple[nn.Linear, torch.Tensor]:
    """``(layer, h)``: the SVQ's last linear layer and its input for vectors x (n, D), so that
    w = h·Wᵀ + b (a factorised SVQ has the identity output activation, its constructor checks)."""
    if not isinstance(module.out_act, nn.Identity):
        raise ValueError("codebook usage: a factorised SVQ must have out_relu=False")
    if isinstance(module.projection, nn.Sequential):
        return module.projection[-1], module.projection[:-1](x)
    return module.projection, x


def find_svq_modules(model: nn.Module) -> list[tuple[str, SVQ]]:
    """``[(qualified module name, module), ...]`` of every SVQ inside ``model``, in order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, SVQ)]


class CodebookUsageRecorder:
    """Accumulate code-usage histograms of a model's SVQ modules while entered.

    Args:
        model: any module (a Forecaster, a bare backbone, a DDP wrapper).
        n_sigmas: thresholds on the standardised |w| (default the seed's 2 and 3).

    Usage::

        with CodebookUsageRecorder(model) as usage:
            for batch in loader:
                usage.counting = not dummy   # a padding batch must count nothing
                model(batch)
        usage.all_reduce()
        usage.summary()   # [] when the model has no SVQ

    ``counting`` (default True) switches the accumulation off for batches that must not count
    (a DDP rank's dummy batch).
    """

    def __init__(self, model: nn.Module, n_sigmas: tuple[float, ...] = N_SIGMAS) -> None:
        self.modules = find_svq_modules(model)
        self.accumulators = {
            name: UsageAccumulator(m.codebook_size, n_sigmas) for name, m in self.modules
        }
        self.counting = True
        self._handles: list[Any] = []

    def __bool__(self) -> bool:
        return bool(self.modules)

    def __enter__(self) -> CodebookUsageRecorder:
        for name, module in self.modules:
            self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _hook(self, name: str):
        acc = self.accumulators[name]

        def hook(module: SVQ, args: tuple[Any, ...], output: Any) -> None:
            if not self.counting:
                return
            with torch.no_grad():
                _, info = output
                w = info.get("code_weights")
                step = max(1, _BLOCK_VALUES // module.codebook_size)
                if w is not None:
                    acc.update(w, chunk_vectors=step)
                    return
                x = args[0].detach().permute(0, 2, 3, 1).reshape(-1, module.dim)
                last, h = _last_layer(module, x)
                moments = affine_moments(h, last.weight, last.bias)
                acc.update_chunks(lambda: (last(b) for b in h.split(step)), moments)

        return hook

    def all_reduce(self, group=None) -> CodebookUsageRecorder:
        """Sum every histogram across processes (a no-op when not distributed)."""
        for acc in self.accumulators.values():
            acc.all_reduce(group)
        return self

    def summary(self, histogram: bool = False) -> list[dict[str, Any]]:
        """One JSON-ready entry per SVQ module: ``{"module": name, **UsageAccumulator.summary}``."""
        return [
            {"module": name, **self.accumulators[name].summary(histogram)}
            for name, _ in self.modules
        ]
