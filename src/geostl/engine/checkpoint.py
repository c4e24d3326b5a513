"""Self-describing checkpoints that load with ``torch.load(path, weights_only=True)``.

A checkpoint is a dict of plain tensors, numbers, strings, booleans, None, lists and dicts
(nothing that needs a class to unpickle), so a file from an untrusted source cannot run code
when loaded with :func:`load_checkpoint`. Layout (``format_version`` 1)::

    format, format_version, geostl_version, torch_version
    config            the resolved run config (plain dict)
    model             {class, constructor_args: {model_cfg, meta}, state_dict}
    data              {config (DataConfig dict), schema, normaliser (Normaliser.state_dict),
                       target_names, forcing_names, static_names, units, lat, lon,
                       time_step_ns, t_in, t_out, uses_future_observed}
    progress          {epoch, epoch_step, global_step, best_metric, best_epoch, bad_epochs,
                       history}
    optimizer, scheduler, scaler   their state_dicts (scaler None without AMP)
    rng               {torch, cuda, numpy, python} generator states as tensors / plain types

Writes are atomic: the file is written under a temporary name in the same folder, flushed,
and moved over the destination with ``os.replace``.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

import geostl

FORMAT = "geostl.checkpoint"
FORMAT_VERSION = 1
_PLAIN = (str, int, float, bool, type(None))


def check_plain(obj: Any, where: str = "checkpoint") -> None:
    """Raise ``TypeError`` naming the path of the first value that is not plain data."""
    if type(obj) in _PLAIN or isinstance(obj, torch.Tensor):
        if isinstance(obj, torch.Tensor) and type(obj) is not torch.Tensor:
            if not isinstance(obj, torch.nn.Parameter):
                raise TypeError(f"{where}: tensor subclass {type(obj).__name__} is not plain")
        return
    if type(obj) is dict:
        for k, v in obj.items():
            if type(k) not in (str, int):
                raise TypeError(f"{where}: dict key {k!r} ({type(k).__name__}) is not str/int")
            check_plain(v, f"{where}.{k}")
        return
    if type(obj) in (list, tuple):
        for i, v in enumerate(obj):
            check_plain(v, f"{where}[{i}]")
        return
    raise TypeError(
        f"{where}: {type(obj).__module__}.{type(obj).__name__} is not plain data (tensors, "
        "numbers, strings, bools, None, lists, dicts); convert it before saving"
    )


def to_plain(obj: Any) -> Any:
    """NumPy scalars/arrays to Python numbers/tensors, tuples kept, recursively."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, str) and type(obj) is not str:  # e.g. torch's TorchVersion
        return str(obj)
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_plain(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(to_plain(v) for v in obj)
    return obj


# -- RNG states --------------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """The torch, CUDA, NumPy and Python generator states as tensors and plain types."""
    # the legacy global NumPy generator is what third-party code draws from: save it too
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": int(version),
            "internal": torch.tensor(internal, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore the states saved by :func:`rng_state`."""
    torch.set_rng_state(state["torch"].to(torch.uint8).cpu())
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.to(torch.uint8).cpu() for s in state["cuda"]])
    n = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            n["kind"],
            n["keys"].numpy().astype(np.uint32),
            int(n["pos"]),
            int(n["has_gauss"]),
            float(n["cached_gaussian"]),
        )
    )
    p = state["python"]
    random.setstate((int(p["version"]), tuple(int(v) for v in p["internal"].tolist()),
                     p["gauss_next"]))  # fmt: skip


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    torch.manual_seed(seed)


# -- model / data description --------------------------------------------------------------------
def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The module under DDP (``.module``) and ``torch.compile`` (``._orig_mod``) wrappers."""
    while True:
        if isinstance(model, torch.nn.parallel.DistributedDataParallel):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def model_description(model: torch.nn.Module) -> dict[str, Any]:
    """``{class, constructor_args, state_dict}`` of a Forecaster-like model."""
    m = unwrap_model(model)
    if not hasattr(m, "constructor_args"):
        raise TypeError(
            f"{type(m).__name__} has no constructor_args(); a checkpoint must be able to rebuild "
            "the model (see geostl.models.Forecaster)"
        )
    args = m.constructor_args()
    if isinstance(args, tuple | list) and len(args) == 2:
        args = {"model_cfg": args[0], "meta": args[1]}
    if not isinstance(args, dict):
        raise TypeError(f"constructor_args() returned {type(args).__name__}; expected (cfg, meta)")
    state = {k: v.detach().cpu().clone() for k, v in m.state_dict().items()}
    return {
        "class": f"{type(m).__module__}.{type(m).__qualname__}",
        "constructor_args": to_plain(args),
        "state_dict": state,
    }


def _grid_coords(dataset: Any) -> dict[str, Any]:
    """``{"lat": (H,), "lon": (W,)}`` float64 tensors, or on a pixel grid ``{"grid": "pixel",
    "y": (H,), "x": (W,)}`` (the sample grid's rows and columns)."""
    if getattr(dataset, "grid_kind", "latlon") == "pixel":
        return {
            "grid": "pixel",
            "y": torch.as_tensor(np.asarray(dataset.rows, dtype=np.float64)),
            "x": torch.as_tensor(np.asarray(dataset.cols, dtype=np.float64)),
        }
    return {
        "lat": torch.as_tensor(np.asarray(dataset.lat, dtype=np.float64)),
        "lon": torch.as_tensor(np.asarray(dataset.lon, dtype=np.float64)),
    }


def data_description(dataset: Any, data_config: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a checkpoint needs to rebuild the data pipeline and label its outputs."""
    return to_plain(
        {
            "config": dict(data_config) if data_config is not None else None,
            "schema": dataset.schema.to_dict(),
            "normaliser": dataset.normaliser.state_dict(),
            "target_names": list(dataset.target_names),
            "forcing_names": list(dataset.forcing_names),
            "static_names": list(dataset.static_names),
            "units": dict(dataset.units),
            **_grid_coords(dataset),
            "time_step_ns": int(np.timedelta64(dataset.time_step, "ns").astype(np.int64)),
            "t_in": int(dataset.t_in),
            "t_out": int(dataset.t_out),
            "uses_future_observed": bool(dataset.uses_future_observed),
        }
    )


# -- save / load ------------------------------------------------------------------------------
def save_checkpoint(path: str | os.PathLike, checkpoint: Mapping[str, Any]) -> Path:
    """Write ``checkpoint`` (plain data only; see the module docstring) atomically.

    The version keys (``format``, ``format_version``, ``geostl_version``,
    ``torch_version``) are added. Raises ``TypeError`` naming the first non-plain value.
    """
    path = Path(path)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "geostl_version": geostl.__version__,
        "torch_version": str(torch.__version__),
        **to_plain(dict(checkpoint)),
    }
    check_plain(payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):  # a full disk, a lost mount: the old file is intact
            before = "the previous file there is unchanged" if path.exists() else "none written"
            raise OSError(
                err.errno, f"could not write checkpoint {path}: {err.strerror or err}; {before}"
            ) from err
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a geostl checkpoint with ``weights_only=True`` (no code can run) and check it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise ValueError(
            f"{path}: not loadable as plain data with torch.load(weights_only=True) ({err})"
        ) from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: not a geostl checkpoint (no format={FORMAT!r} key)")
    if int(ckpt.get("format_version", -1)) > FORMAT_VERSION:
        raise ValueError(
            f"{path}: checkpoint format_version {ckpt['format_version']} is newer than this "
            f"geostl reads ({FORMAT_VERSION}); upgrade geostl"
        )
    return ckpt


def build_model_from_checkpoint(ckpt: Mapping[str, Any] | str | os.PathLike) -> torch.nn.Module:
    """Rebuild the model and load its weights: a task model (``model_cfg["task"]`` names a
    task of :data:`geostl.tasks.TASKS`) with its task's ``build_model``, else the Forecaster
    (:func:`geostl.models.forecaster.forecaster_for_state_dict`: checkpoints saved before
    ``openstl_inert_params`` became opt-in load with the flag set from their weights)."""
    if not isinstance(ckpt, Mapping):
        ckpt = load_checkpoint(ckpt)
    from geostl.models.forecaster import forecaster_for_state_dict

    args = ckpt["model"]["constructor_args"]
    task_name = args["model_cfg"].get("task") if isinstance(args["model_cfg"], Mapping) else None
    if task_name is not None:
        from geostl.tasks import TASKS

        task = TASKS.get(task_name)
        if task.build_model is None:
            raise ValueError(f"checkpoint model: task {task_name!r} cannot rebuild a model")
        model = task.build_model(args["model_cfg"], args["meta"])
        model.load_state_dict(ckpt["model"]["state_dict"])
        return model
    return forecaster_for_state_dict(args["model_cfg"], args["meta"], ckpt["model"]["state_dict"])


def normaliser_from_checkpoint(ckpt: Mapping[str, Any]):
    """The fitted :class:`geostl.data.Normaliser` stored in the checkpoint."""
    from geostl.data import Normaliser

    return Normaliser.from_state_dict(ckpt["data"]["normaliser"])
