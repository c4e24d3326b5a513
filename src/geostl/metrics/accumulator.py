"""Additive float64 sums that combine across batches and processes.

Only sums are stored, so memory is independent of the number of batches. Every mean is formed
as a ratio of sums after all updates (and after :meth:`WeightedSums.all_reduce` in a
distributed run).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch
import torch.distributed as dist

__all__ = ["WeightedSums"]


class WeightedSums:
    """A named collection of float64 sums.

    Each entry is a tensor of a fixed shape (e.g. (T, C) per lead time and channel) that is
    created at its first :meth:`add` and increased by later ones.

    Example:
        >>> s = WeightedSums()
        >>> s.add("se", torch.tensor([1.0, 2.0]))
        >>> s.add("se", torch.tensor([0.5, 0.5]))
        >>> s["se"].tolist()
        [1.5, 2.5]
    """

    def __init__(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}

    # -- access -----------------------------------------------------------------------------
    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self._sums:
            raise KeyError(f"WeightedSums: no sum named {name!r}; have {sorted(self._sums)}")
        return self._sums[name]

    def __contains__(self, name: object) -> bool:
        return name in self._sums

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._sums))

    def __len__(self) -> int:
        return len(self._sums)

    def names(self) -> list[str]:
        """Names of the sums, sorted."""
        return sorted(self._sums)

    # -- accumulation -----------------------------------------------------------------------
    def add(self, name: str, value: torch.Tensor | float) -> None:
        """Add ``value`` (converted to float64) to the sum called ``name``.

        The first call fixes the shape and device of that sum; later values must have the
        same shape.
        """
        v = torch.as_tensor(value).detach()
        if v.is_complex():
            raise ValueError(f"WeightedSums.add({name!r}): complex values are not supported")
        if name not in self._sums:
            self._sums[name] = v.to(torch.float64).clone()
            return
        cur = self._sums[name]
        if v.shape != cur.shape:
            raise ValueError(
                f"WeightedSums.add({name!r}): expected shape {tuple(cur.shape)}, got "
                f"{tuple(v.shape)}"
            )
        cur.add_(v.to(device=cur.device, dtype=torch.float64))

    def update(self, sums: Mapping[str, torch.Tensor | float]) -> None:
        """Add every entry of ``sums`` (name -> value)."""
        for name, value in sums.items():
            self.add(name, value)

    def merge(self, other: WeightedSums) -> WeightedSums:
        """Add all sums of ``other`` into this collection (in place) and return ``self``."""
        if not isinstance(other, WeightedSums):
            raise TypeError(f"merge: expected a WeightedSums, got {type(other).__name__}")
        for name in other:
            self.add(name, other[name])
        return self

    def reset(self) -> None:
        """Forget all sums."""
        self._sums.clear()

    # -- distributed ------------------------------------------------------------------------
    def all_reduce(self, group: dist.ProcessGroup | None = None) -> WeightedSums:
        """Sum every entry across the processes of ``group`` (in place) and return ``self``.

        A no-op when ``torch.distributed`` is not available or not initialised. All
        processes must hold the same names and shapes; this is checked first and a clear
        error is raised otherwise (a rank that saw no data would otherwise hang or mix up
        entries). The sums are packed into one flat float64 tensor for a single collective.
        """
        if not (dist.is_available() and dist.is_initialized()):
            return self
        layout = [(name, tuple(self._sums[name].shape)) for name in self.names()]
        world = dist.get_world_size(group)
        layouts: list[object] = [None] * world
        dist.all_gather_object(layouts, layout, group=group)
        for rank, other in enumerate(layouts):
            if other != layout:
                raise RuntimeError(
                    "WeightedSums.all_reduce: processes hold different sums; this process has "
                    f"{layout}, rank {rank} has {other}. Every process must see the same "
                    "kinds of updates (and at least one batch) before all_reduce."
                )
        if not layout:
            return self
        device = self._sums[layout[0][0]].device
        flat = torch.cat([self._sums[name].reshape(-1).to(device) for name, _ in layout])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
        offset = 0
        for name, shape in layout:
            n = self._sums[name].numel()
            self._sums[name] = flat[offset : offset + n].reshape(shape).clone()
            offset += n
        return self

    # -- persistence ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        """Plain ``{name: float64 tensor}`` copy of the sums (on CPU), for checkpoints."""
        return {name: self._sums[name].detach().cpu().clone() for name in self.names()}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """Replace all sums by those of ``state`` (as produced by :meth:`state_dict`)."""
        new: dict[str, torch.Tensor] = {}
        for name, value in state.items():
            if not isinstance(name, str):
                raise TypeError(f"load_state_dict: sum names must be str, got {name!r}")
            new[name] = torch.as_tensor(value).detach().to(torch.float64).clone()
        self._sums = new

    def to(self, device: torch.device | str) -> WeightedSums:
        """Move every sum to ``device`` (in place) and return ``self``."""
        self._sums = {k: v.to(device) for k, v in self._sums.items()}
        return self

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {tuple(v.shape)}" for k, v in sorted(self._sums.items()))
        return f"WeightedSums({inner})"
