"""``TASKS``: the tasks a run config can name with its top-level ``task`` key.

A :class:`Task` bundles what the generic pipeline (``geostl train / test``) needs from a task
that is not a Forecaster run: the run-config schema its files are checked against, and the
``train`` / ``test`` entry points (which use :class:`geostl.engine.Trainer` and the
checkpoint writers). A config without ``task`` goes through :mod:`geostl.commands.run` as before.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import numpy as np
    import xarray as xr

    #: ``forecast(ckpt, sources, issue) -> forecast Dataset`` (see :attr:`Task.forecast`)
    TaskForecast = Callable[[dict, dict[str, xr.Dataset], np.datetime64 | None], xr.Dataset]

__all__ = ["TASKS", "Task", "ready_config", "task_of"]


@dataclass(frozen=True)
class Task:
    """One task: ``spec`` (a :class:`geostl.runconfig.spec.Section`), ``train(cfg, resume,
    progress) -> run dir`` and ``test(ckpt_path, out, progress) -> metrics``."""

    name: str
    spec: Any
    train: Callable[..., Path]
    test: Callable[..., Any]
    description: str = ""
    #: ``build_model(model_cfg, meta) -> nn.Module``: rebuilds the task's model from the
    #: ``constructor_args`` a checkpoint stores (``model_cfg["task"]`` names the task)
    build_model: Callable[..., Any] | None = None
    #: ``forecast(ckpt, sources, issue) -> xr.Dataset``: an operational forecast (no truth
    #: needed) from ``ckpt``, the loaded checkpoint dict, and ``sources``, ``{source name:
    #: Dataset}`` for the run config's ``data.sources`` with the user's files in place of the
    #: training ones; ``issue`` is the issue time (the last input time), None = the last time
    #: that ends a complete input window. The result has the forecast Dataset layout of
    #: :mod:`geostl.outputs.netcdf` with one ``init_time`` (grid dims where the task has a
    #: grid). None: the task makes no operational forecasts (``geostl forecast`` refuses it).
    forecast: TaskForecast | None = None


class _TaskRegistry:
    """Name -> :class:`Task`; refuses duplicates, suggests close names for unknown ones."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def register(self, task: Task) -> Task:
        if task.name in self._tasks:
            raise KeyError(f"TASKS: task {task.name!r} is already registered")
        self._tasks[task.name] = task
        return task

    def available(self) -> list[str]:
        _load_builtin()
        return sorted(self._tasks)

    def get(self, name: str) -> Task:
        _load_builtin()
        if name not in self._tasks:
            close = difflib.get_close_matches(name, list(self._tasks), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"task: unknown task {name!r} (known: {sorted(self._tasks)}){hint}")
        return self._tasks[name]


TASKS = _TaskRegistry()


def _load_builtin() -> None:
    """Import ``geostl.tasks.<name>.task`` of every task package (each registers itself)."""
    import importlib
    import importlib.util
    import pkgutil

    import geostl.tasks

    for info in pkgutil.iter_modules(geostl.tasks.__path__):
        name = f"geostl.tasks.{info.name}.task"
        if info.ispkg and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def task_of(
    paths: Sequence[str | os.PathLike] | str | os.PathLike, overrides: Iterable[str] = ()
) -> Task | None:
    """The task named by the top-level ``task`` key of the config files (last file or
    ``task=NAME`` override wins; ``_base_`` files are followed), or None when none names one."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    name = None

    def read(path: Path, depth: int = 0) -> str | None:
        if depth > 20 or not path.is_file():
            return None  # the loader reports missing files and cycles
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, Mapping):
            return None
        found = None
        bases = data.get("_base_") or []
        for base in [bases] if isinstance(bases, str) else list(bases):
            found = read(path.parent / str(base), depth + 1) or found
        return data.get("task", found)

    for p in paths:
        name = read(Path(p)) or name
    for text in overrides:
        key, _, value = text.partition("=")
        if key.strip() == "task":
            name = value.strip() or None
    if name is None:
        return None
    if not isinstance(name, str):
        raise KeyError(f"task: expected a task name (str), got {name!r}")
    return TASKS.get(name)


def ready_config(relative: str) -> Path:
    """The path of a ready config shipped with geostl (``relative`` to its ``configs/``
    folder, e.g. ``enso/enso_convlstm_ersst.yaml``): the package's ``geostl/configs`` when
    installed, the checkout's ``configs/`` in a source tree."""
    import geostl

    root = Path(geostl.__file__).resolve().parent
    for base in (root / "configs", root.parents[1] / "configs"):
        if (base / relative).is_file():
            return base / relative
    raise FileNotFoundError(f"ready config {relative!r} is not shipped with this geostl")
