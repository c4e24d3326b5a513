"""The cells of a grid: one normal run config per backbone x fusion x C x policy.

Expansion, per backbone in config order:

- C = 1 (the target alone): one cell with fusion ``none`` and no forcings, whatever
  the fusions and policies (a policy only matters for forcings). Its id is
  ``LABEL-none-C1``.
- every other C, fusion and policy: ``LABEL-FUSION-C<C>-POLICY``, with the first
  ``C - 1`` forcings of ``data.schema.forcings`` in their declared order (the seed keeps
  the first channels), ``model.fusion = FUSION`` and ``data.future_forcings = POLICY``.

A cell's config is the base config with exactly these overrides: ``run.dir`` (the grid
directory), ``run.name`` (the cell id), ``model.backbone`` (name + kwargs), ``model.fusion``,
``data.schema.forcings`` (the first C - 1, and ``data.normalisation.fixed`` without the
scalings of the others: :func:`geostl.tasks.iono.channels.keep_first_channels`),
``data.future_forcings``.
Each cell is validated as a complete run config.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geostl.data import DataConfig
from geostl.runconfig import RUN_SPEC, ConfigError, Section, check
from geostl.tasks.iono.channels import keep_first_channels

from .spec import GridSpec

__all__ = ["Cell", "config_hash", "expand_cells", "grid_dir"]


@dataclass(frozen=True)
class Cell:
    """One run of the grid.

    Attributes:
        id: readable id, also the run directory name.
        backbone: the backbone label; backbone_name: its registered name.
        fusion: fusion name (``none`` for the targets-only run).
        channels: C, targets + forcings fed to the model.
        policy: the future-forcing policy, None for the targets-only run.
        forcings: names of the forcings kept, in order.
        config: the complete resolved run config.
    """

    id: str
    backbone: str
    backbone_name: str
    fusion: str
    channels: int
    policy: str | None
    forcings: tuple[str, ...]
    config: dict[str, Any]

    @property
    def run_dir(self) -> Path:
        return Path(self.config["run"]["dir"]) / self.id

    @property
    def config_hash(self) -> str:
        return config_hash(self.config)


def grid_dir(grid: GridSpec) -> Path:
    """``run.dir / run.name`` of the base config: every cell's run directory lies inside."""
    return Path(grid.base["run"]["dir"]) / str(grid.base["run"]["name"])


def config_hash(cfg: Mapping[str, Any]) -> str:
    """16 hex digits of the SHA-256 of the config without its ``run`` section (where the run
    is written does not change what it computes) and without the keys that hold their spec
    default (so a later geostl that adds an option with a default does not make every
    finished cell look changed)."""
    body = strip_defaults({k: v for k, v in cfg.items() if k != "run"}, RUN_SPEC)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def strip_defaults(cfg: Mapping[str, Any], spec: Section) -> dict[str, Any]:
    """``cfg`` less every key of ``spec`` whose value equals the spec's default (recursively);
    keys the spec does not know (backbone kwargs, data mappings) are kept."""
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        sub = spec.keys.get(key)
        if isinstance(sub, Section) and isinstance(value, Mapping):
            value = strip_defaults(value, sub)
            if not value:
                continue
        elif sub is not None and not sub.required and value == sub.default:
            continue
        out[key] = value
    return out


def _cell_config(
    grid: GridSpec, cell_id: str, backbone, fusion: str, n_forcings: int, policy: str
) -> dict[str, Any]:
    cfg = copy.deepcopy(grid.base)
    cfg["run"] = {**cfg["run"], "dir": str(grid_dir(grid)), "name": cell_id}
    cfg["model"]["backbone"] = {"name": backbone.name, **copy.deepcopy(backbone.kwargs)}
    cfg["model"]["fusion"] = fusion
    cfg["data"] = keep_first_channels(cfg["data"], 1 + n_forcings)
    cfg["data"]["future_forcings"] = policy
    where = f"grid cell {cell_id}"
    cfg = check(cfg, RUN_SPEC, origin=where, complete=True)
    try:
        DataConfig.from_dict({k: v for k, v in cfg["data"].items() if k != "sources"}, "data")
    except (KeyError, ValueError, TypeError) as err:
        raise ConfigError(f"{err.args[0] if err.args else err} (in {where})") from err
    return cfg


def _check_fusion(fusions, name: str, backbone, cell_id: str, k: int, s: int) -> None:
    """Build the (small) fusion for these channel counts and check that the backbone takes
    the options the fusion passes to it, so that a bad combination fails before training."""
    from geostl.models import BACKBONES

    try:
        fusion = fusions.build(name, target_channels=1, forcing_channels=k, static_channels=s)
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(
            f"grid cell {cell_id}: fusion {name!r} cannot take 1 target + {k} "
            f"forcing(s) + {s} static plane(s): {err.args[0] if err.args else err}"
        ) from err
    accepted = BACKBONES.accepted_arguments(backbone.name)
    for option in getattr(fusion, "backbone_options", {}) or {}:
        if accepted is not None and option not in accepted:
            raise ConfigError(
                f"grid cell {cell_id}: fusion {name!r} needs backbone argument {option!r}, "
                f"which backbone {backbone.name!r} (grid.backbones.{backbone.label}) does not take"
            )


def expand_cells(grid: GridSpec) -> list[Cell]:
    """Every cell of ``grid`` in table order (see the module docstring).

    The fusion of each cell is built once here (they are small modules) so that a fusion that
    cannot take a channel count fails before any training, naming the cell.
    """
    from geostl.models import FUSIONS

    static = len(grid.schema.static)
    cells: list[Cell] = []
    for bb in grid.backbones:
        for c in grid.channels:
            if c == 1:
                combos = [("none", "known", None)]
            else:
                combos = [(f, p, p) for f in grid.fusions for p in grid.policies]
            for fusion, data_policy, policy in combos:
                k = c - 1
                suffix = "" if policy is None else f"-{policy}"
                cell_id = f"{bb.label}-{fusion}-C{c}{suffix}"
                _check_fusion(FUSIONS, fusion, bb, cell_id, k, static)
                cells.append(
                    Cell(
                        id=cell_id,
                        backbone=bb.label,
                        backbone_name=bb.name,
                        fusion=fusion,
                        channels=c,
                        policy=policy,
                        forcings=tuple(grid.schema.forcing_names[:k]),
                        config=_cell_config(grid, cell_id, bb, fusion, k, data_policy),
                    )
                )
    return cells
