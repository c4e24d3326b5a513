"""Distributed data parallel helpers: the same code runs single-process and under ``torchrun``.

``torchrun --nproc_per_node N ...`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_distributed` reads them and starts the
process group (``nccl`` on CUDA, ``gloo`` on CPU). Without them (or with ``WORLD_SIZE=1``)
everything below is a single-process no-op. Only rank 0 writes files and shows progress.

Sharding: :class:`ShardSampler` gives each rank its share of the indices of an epoch. For
training the order is a permutation seeded by ``(seed, epoch)`` and padded by repeating
indices so that every rank takes the same number of steps (DDP needs it). For evaluation it
is unshuffled and never padded: every window is scored exactly once over all ranks.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler


class DeviceError(RuntimeError, ValueError):
    """A device the config asks for is not on this machine."""


def resolve_device(
    device: str | torch.device = "auto", local_rank: int = 0, where: str = "device"
) -> torch.device:
    """The torch device for a config's ``device`` (``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``).

    ``auto``: CUDA when available, else CPU. A CUDA device without an index is this process's
    GPU, ``cuda:{local_rank % device_count}`` (one per ``torchrun`` process). Asking for CUDA
    where there is none is a ``RuntimeError`` naming ``where`` (e.g. ``train.device``).
    """
    if str(device) == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CUDA build" if torch.version.cuda else "a CPU-only build"
            raise DeviceError(
                f"{where}: {str(device)!r} asked but CUDA is not available here (torch "
                f"{torch.__version__}, {build}); use {where}=cpu or {where}=auto"
            )
        if dev.index is None:
            return torch.device("cuda", local_rank % torch.cuda.device_count())
    return dev


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world_size`` (``local_rank`` on its node)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as err:
        raise ValueError(f"environment variable {name}={value!r}: expected an integer") from err


def dist_info() -> DistInfo:
    """The current rank/world (from the process group if initialised, else the environment)."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(
            dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK", dist.get_rank())
        )
    return DistInfo(_env_int("RANK", 0), _env_int("WORLD_SIZE", 1), _env_int("LOCAL_RANK", 0))


def init_distributed(device: torch.device | str = "cpu") -> DistInfo:
    """Start the process group when launched with ``WORLD_SIZE > 1`` (idempotent).

    Args:
        device: the device this process trains on; ``cuda`` selects ``nccl``, else ``gloo``.
    """
    info = dist_info()
    if not info.distributed or dist.is_initialized():
        return info
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but torch.distributed is not available in this build")
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise RuntimeError(
                f"WORLD_SIZE={info.world_size} but {name} is not set; launch with torchrun"
            )
    backend = "nccl" if torch.device(device).type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
    # Destroyed while the interpreter is still whole: a gloo group left to the teardown can
    # abort a finished run ("terminate called without an active exception").
    atexit.register(shutdown_distributed)
    return dist_info()


def shutdown_distributed(wait: bool = False) -> None:
    """Destroy the process group if one was started; ``wait``: after a barrier, so that no
    rank tears its connections down while another still works (a run that ended well)."""
    if dist.is_available() and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of ``x`` over all ranks (a copy; ``x`` itself when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return x
    y = x.clone()
    dist.all_reduce(y, op=dist.ReduceOp.SUM)
    return y


def barrier() -> None:
    """Wait for every rank (no-op single-process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def broadcast_object(obj: object, src: int = 0) -> object:
    """``obj`` of rank ``src`` on every rank (``obj`` itself when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def shard_indices(
    n: int,
    rank: int,
    world_size: int,
    shuffle: bool,
    seed: int = 0,
    epoch: int = 0,
    pad: bool = True,
) -> list[int]:
    """Indices of ``range(n)`` for ``rank``.

    ``shuffle``: a permutation from a generator seeded with ``seed * 1_000_003 + epoch``.
    ``pad``: repeat leading indices so ``n`` becomes a multiple of ``world_size`` (every rank
    gets ``ceil(n / world_size)``); without it the shards partition ``range(n)`` exactly
    (rank r takes positions r, r + world_size, ...), some ranks possibly one index short.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"shard_indices: rank {rank} outside [0, {world_size})")
    if shuffle:
        g = torch.Generator()
        g.manual_seed(int(seed) * 1_000_003 + int(epoch))
        order = torch.randperm(n, generator=g).tolist()
    else:
        order = list(range(n))
    if pad and n % world_size:
        extra = world_size - n % world_size
        order = order + (order * (extra // max(n, 1) + 1))[:extra]
    return order[rank::world_size]


class ShardSampler(Sampler[int]):
    """This rank's indices of an epoch (see :func:`shard_indices`), resumable mid-epoch.

    Call :meth:`set_epoch` before each epoch; :meth:`skip` drops the first ``k`` indices of
    the epoch (used to resume after ``k`` samples were already consumed).
    """

    def __init__(
        self,
        n: int,
        info: DistInfo | None = None,
        shuffle: bool = False,
        seed: int = 0,
        pad: bool = True,
    ) -> None:
        self.n = int(n)
        self.info = info or dist_info()
        self.shuffle, self.seed, self.pad = shuffle, int(seed), pad
        self.epoch = 0
        self._skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self._skip = int(epoch), int(skip)

    def indices(self) -> list[int]:
        idx = shard_indices(
            self.n,
            self.info.rank,
            self.info.world_size,
            self.shuffle,
            self.seed,
            self.epoch,
            self.pad,
        )
        return idx[self._skip :]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices())

    def __len__(self) -> int:
        return len(self.indices())
