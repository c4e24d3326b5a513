"""``TrainConfig`` and ``EvalConfig``: the ``train`` and ``eval`` sections of a run config.

Both are built from plain dicts (as loaded from YAML) with :meth:`from_dict`, which refuses
unknown keys (naming the closest matches) and values of the wrong type (naming the key, the
expected type and the value given). ``to_dict`` returns a plain dict that ``from_dict`` turns
back into an equal object.

The keys, their defaults and their meaning are declared once, in the run-config schema
:data:`geostl.runconfig.RUN_SPEC` (``geostl config --keys train`` lists them): the fields
below take their defaults from it, and importing this module fails if a key is added to the
schema's ``train`` or ``eval`` section without a field here (or the other way round).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from geostl._keys import check_choice as _choice
from geostl._keys import check_keys
from geostl.engine.loss import CRITERIA
from geostl.models.scheduled_sampling import ScheduledSampling
from geostl.runconfig.spec import RUN_SPEC, Section, defaults

_TRAIN: Section = RUN_SPEC.keys["train"]  # type: ignore[assignment]
_EVAL: Section = RUN_SPEC.keys["eval"]  # type: ignore[assignment]


def _default(section: Section, key: str) -> Any:
    """The schema's default of ``section.key`` (lists as tuples: the configs are frozen)."""
    value = section.keys[key].default
    return tuple(value) if isinstance(value, list) else value


def _same_keys(cls: type, section: Section, name: str) -> None:
    fields = [f.name for f in dataclasses.fields(cls)]
    if fields != list(section.keys):
        raise AssertionError(
            f"{cls.__name__} fields {fields} differ from the schema's {name} keys "
            f"{list(section.keys)} (geostl.runconfig.spec.RUN_SPEC): declare a key in both"
        )


def _given(cls: type, d: Mapping[str, Any] | None, where: str) -> Mapping[str, Any]:
    """``d`` (``{}`` for None) after checking its keys against the fields of ``cls``."""
    d = {} if d is None else d
    check_keys(d, [f.name for f in dataclasses.fields(cls)], where)
    return d


def _choices(section: Section, key: str) -> tuple[Any, ...]:
    return tuple(section.keys[key].choices or ())


OPTIMIZERS = _choices(_TRAIN, "optimizer")
SCHEDULES = _choices(_TRAIN, "schedule")
DEVICES = _choices(_TRAIN, "device")
PRECISION_CHOICES = _choices(_TRAIN, "precision")
BASELINES = _choices(_EVAL, "baselines")
CLIMATOLOGY_BY = (*_choices(_EVAL, "climatology_by"), None)


def _type_error(where: str, expected: str, value: Any) -> TypeError:
    hint = ""
    if isinstance(value, str):
        try:
            float(value)
            hint = " (YAML reads 1e-3 as a string: write 1.0e-3)"
        except ValueError:
            pass
    return TypeError(f"{where}: expected {expected}, got {type(value).__name__} {value!r}{hint}")


def _int(value: Any, where: str, minimum: int | None = None, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _type_error(where, "an integer" + (" or null" if optional else ""), value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _float(
    value: Any, where: str, minimum: float | None = None, optional: bool = False, strict=False
) -> float | None:
    if value is None and optional:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _type_error(where, "a number" + (" or null" if optional else ""), value)
    v = float(value)
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    if minimum is not None and (v <= minimum if strict else v < minimum):
        raise ValueError(f"{where}: expected a number {'>' if strict else '>='} {minimum}, got {v}")
    return v


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _type_error(where, "true or false", value)
    return value


@dataclass(frozen=True)
class TrainConfig:
    """The ``train`` section; ``geostl config --keys train`` says what each key means."""

    epochs: int = _default(_TRAIN, "epochs")
    batch_size: int = _default(_TRAIN, "batch_size")
    val_batch_size: int = _default(_TRAIN, "val_batch_size")
    num_workers: int = _default(_TRAIN, "num_workers")
    optimizer: str = _default(_TRAIN, "optimizer")
    lr: float = _default(_TRAIN, "lr")
    weight_decay: float = _default(_TRAIN, "weight_decay")
    schedule: str = _default(_TRAIN, "schedule")
    warmup_steps: int = _default(_TRAIN, "warmup_steps")
    warmup_epochs: int = _default(_TRAIN, "warmup_epochs")
    grad_clip: float | None = _default(_TRAIN, "grad_clip")
    criterion: str = _default(_TRAIN, "criterion")
    precision: str = _default(_TRAIN, "precision")
    amp: bool = _default(_TRAIN, "amp")
    compile: bool = _default(_TRAIN, "compile")
    device: str = _default(_TRAIN, "device")
    early_stopping: int | None = _default(_TRAIN, "early_stopping")
    seed: int = _default(_TRAIN, "seed")
    max_minutes: float | None = _default(_TRAIN, "max_minutes")
    max_steps_per_epoch: int | None = _default(_TRAIN, "max_steps_per_epoch")
    scheduled_sampling: ScheduledSampling = field(
        default_factory=lambda: ScheduledSampling.from_dict(
            defaults(_TRAIN.keys["scheduled_sampling"])
        )
    )
    log_every: int = _default(_TRAIN, "log_every")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, where: str = "train") -> TrainConfig:
        """Validate a plain dict; missing keys take their defaults."""
        d = _given(cls, d, where)
        out: dict[str, Any] = {}
        w = lambda k: f"{where}.{k}"  # noqa: E731
        for key, minimum in (("epochs", 1), ("batch_size", 1), ("val_batch_size", 1),
                             ("num_workers", 0), ("warmup_steps", 0), ("warmup_epochs", 0),
                             ("seed", 0), ("log_every", 1)):  # fmt: skip
            if key in d:
                out[key] = _int(d[key], w(key), minimum)
        for key, minimum in (("early_stopping", 1), ("max_steps_per_epoch", 1)):
            if key in d:
                out[key] = _int(d[key], w(key), minimum, optional=True)
        if "lr" in d:
            out["lr"] = _float(d["lr"], w("lr"), 0.0, strict=True)
        if "weight_decay" in d:
            out["weight_decay"] = _float(d["weight_decay"], w("weight_decay"), 0.0)
        if "grad_clip" in d:
            out["grad_clip"] = _float(d["grad_clip"], w("grad_clip"), 0.0, True, strict=True)
        if "max_minutes" in d:
            out["max_minutes"] = _float(d["max_minutes"], w("max_minutes"), 0.0, True, True)
        for key in ("amp", "compile"):
            if key in d:
                out[key] = _bool(d[key], w(key))
        for key, choices in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES),
                             ("device", DEVICES), ("criterion", CRITERIA),
                             ("precision", PRECISION_CHOICES)):  # fmt: skip
            if key in d:
                out[key] = _choice(d[key], choices, w(key))
        if "scheduled_sampling" in d:
            ss = d["scheduled_sampling"]
            out["scheduled_sampling"] = (
                ScheduledSampling(start=0.0, decay_per_step=0.0, min=0.0)
                if ss is None
                else ScheduledSampling.from_dict(ss, w("scheduled_sampling"))
            )
        if out.get("warmup_steps", 0) and out.get("warmup_epochs", 0):
            raise ValueError(
                f"{w('warmup_steps')} and {w('warmup_epochs')}: give one warm-up length, not both"
            )
        return cls(**out)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict; ``TrainConfig.from_dict(cfg.to_dict()) == cfg``."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EvalConfig:
    """The ``eval`` section: batch size, baselines, climatology phase, figure choices, and
    ``codebook_usage`` (record the SVQ code-usage diagnostic when the model has an SVQ)."""

    batch_size: int = _default(_EVAL, "batch_size")
    baselines: tuple[str, ...] = _default(_EVAL, "baselines")
    climatology_by: str | None = _default(_EVAL, "climatology_by")
    figure_window: int = _default(_EVAL, "figure_window")
    figure_leads: tuple[int, ...] | None = _default(_EVAL, "figure_leads")
    codebook_usage: bool = _default(_EVAL, "codebook_usage")
    references: dict[str, Any] = field(default_factory=dict)
    ensemble_members: int = _default(_EVAL, "ensemble_members")
    ensemble_method: str = _default(_EVAL, "ensemble_method")
    ensemble_perturb_std: float = _default(_EVAL, "ensemble_perturb_std")
    ensemble_checkpoints: tuple[str, ...] = ()
    ensemble_seed: int = _default(_EVAL, "ensemble_seed")
    persistence_members: int | None = _default(_EVAL, "persistence_members")
    thresholds: dict[str, tuple[float, ...]] = field(default_factory=dict)
    coverage: tuple[float, ...] = (0.5, 0.9)
    iri_f107: str = _default(_EVAL, "iri_f107")

    @property
    def probabilistic(self) -> bool:
        """True when an ensemble is scored (``ensemble_members`` > 0)."""
        return self.ensemble_members > 0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, where: str = "eval") -> EvalConfig:
        """Validate a plain dict; missing keys take their defaults."""
        d = _given(cls, d, where)
        out: dict[str, Any] = {}
        if "batch_size" in d:
            out["batch_size"] = _int(d["batch_size"], f"{where}.batch_size", 1)
        if "baselines" in d:
            b = d["baselines"]
            if b is None:
                b = []
            if not isinstance(b, list | tuple):
                raise _type_error(f"{where}.baselines", f"a list of {list(BASELINES)}", b)
            for i, name in enumerate(b):
                _choice(name, BASELINES, f"{where}.baselines[{i}]")
            if len(set(b)) != len(b):
                raise ValueError(f"{where}.baselines: repeated names in {list(b)}")
            out["baselines"] = tuple(b)
        if "climatology_by" in d:
            out["climatology_by"] = _choice(
                d["climatology_by"], CLIMATOLOGY_BY, f"{where}.climatology_by"
            )
        if "figure_window" in d:
            out["figure_window"] = _int(d["figure_window"], f"{where}.figure_window")
        if "figure_leads" in d:
            fl = d["figure_leads"]
            if fl is not None:
                if not isinstance(fl, list | tuple) or not fl:
                    raise _type_error(f"{where}.figure_leads", "a list of lead indices or null", fl)
                fl = tuple(_int(v, f"{where}.figure_leads[{i}]", 0) for i, v in enumerate(fl))
            out["figure_leads"] = fl
        if "codebook_usage" in d:
            out["codebook_usage"] = _bool(d["codebook_usage"], f"{where}.codebook_usage")
        if d.get("references"):
            from geostl.runconfig.spec import check_field

            field_spec = RUN_SPEC.keys["eval"].keys["references"]
            check_field(d["references"], field_spec, f"{where}.references", complete=True)
            clash = set(d["references"]) & (set(BASELINES) | {"model"})
            if clash:
                raise ValueError(
                    f"{where}.references: {sorted(clash)} name a baseline or the model; "
                    "choose other labels"
                )
            out["references"] = {k: dict(v) for k, v in d["references"].items()}
        if "iri_f107" in d:
            if not isinstance(d["iri_f107"], str):
                raise _type_error(f"{where}.iri_f107", "a forcing channel name", d["iri_f107"])
            out["iri_f107"] = d["iri_f107"]
        out.update(_ensemble_keys(d, where))
        return cls(**out)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists, not tuples); ``EvalConfig.from_dict(cfg.to_dict()) == cfg``."""
        return {
            "batch_size": self.batch_size,
            "baselines": list(self.baselines),
            "climatology_by": self.climatology_by,
            "figure_window": self.figure_window,
            "figure_leads": None if self.figure_leads is None else list(self.figure_leads),
            "codebook_usage": self.codebook_usage,
            "references": {k: dict(v) for k, v in self.references.items()},
            "iri_f107": self.iri_f107,
            "ensemble_members": self.ensemble_members,
            "ensemble_method": self.ensemble_method,
            "ensemble_perturb_std": self.ensemble_perturb_std,
            "ensemble_checkpoints": list(self.ensemble_checkpoints),
            "ensemble_seed": self.ensemble_seed,
            "persistence_members": self.persistence_members,
            "thresholds": {k: list(v) for k, v in self.thresholds.items()},
            "coverage": list(self.coverage),
        }


def _ensemble_keys(d: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The probabilistic keys of the ``eval`` section, validated."""
    out: dict[str, Any] = {}
    if "ensemble_members" in d:
        out["ensemble_members"] = _int(d["ensemble_members"], f"{where}.ensemble_members", 0)
    if "ensemble_method" in d:
        out["ensemble_method"] = _choice(
            d["ensemble_method"], _choices(_EVAL, "ensemble_method"), f"{where}.ensemble_method"
        )
    if "ensemble_perturb_std" in d:
        out["ensemble_perturb_std"] = _float(
            d["ensemble_perturb_std"], f"{where}.ensemble_perturb_std", 0.0, strict=True
        )
    if d.get("ensemble_checkpoints"):
        paths = d["ensemble_checkpoints"]
        if not isinstance(paths, list | tuple) or not all(isinstance(p, str) for p in paths):
            raise _type_error(f"{where}.ensemble_checkpoints", "a list of file paths", paths)
        out["ensemble_checkpoints"] = tuple(paths)
    if "ensemble_seed" in d:
        out["ensemble_seed"] = _int(d["ensemble_seed"], f"{where}.ensemble_seed", 0)
    if "persistence_members" in d:
        out["persistence_members"] = _int(
            d["persistence_members"], f"{where}.persistence_members", 1, optional=True
        )
    if d.get("thresholds"):
        t = d["thresholds"]
        if not isinstance(t, Mapping):
            raise _type_error(f"{where}.thresholds", "{CHANNEL: [X, ...]}", t)
        out["thresholds"] = {}
        for ch, values in t.items():
            items = values if isinstance(values, list | tuple) else [values]
            key = f"{where}.thresholds.{ch}"
            out["thresholds"][str(ch)] = tuple(
                _float(v, f"{key}[{i}]") for i, v in enumerate(items)
            )
    if "coverage" in d:
        c = d["coverage"]
        if not isinstance(c, list | tuple) or not c:
            raise _type_error(f"{where}.coverage", "a list of probabilities in (0, 1)", c)
        levels = tuple(_float(v, f"{where}.coverage[{i}]") for i, v in enumerate(c))
        bad = [v for v in levels if not 0.0 < v < 1.0]  # type: ignore[operator]
        if bad:
            raise ValueError(f"{where}.coverage: probabilities must lie in (0, 1), got {bad}")
        out["coverage"] = levels
    method = out.get("ensemble_method", _default(_EVAL, "ensemble_method"))
    members = out.get("ensemble_members", 0)
    paths = out.get("ensemble_checkpoints", ())
    if method == "checkpoints" and members and len(paths) + 1 != members:
        raise ValueError(
            f"{where}.ensemble_members: {members} members with ensemble_method checkpoints "
            f"need {members - 1} ensemble_checkpoints besides the model, got {len(paths)}"
        )
    return out


_same_keys(TrainConfig, _TRAIN, "train")
_same_keys(EvalConfig, _EVAL, "eval")
