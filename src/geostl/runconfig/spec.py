"""The run-config schema: every key of a run config, declared once, with its meaning.

A spec is a tree of :class:`Section` (a mapping with known keys) and :class:`Field` (a leaf with
an accepted kind, a default, optional choices or bounds, and ``help``: what the key means and
its units). Everything about the keys comes from :data:`RUN_SPEC`:

* validation: :func:`check` (a file, an override or the merged config; unknown keys name close
  matches through :mod:`geostl._keys`), used by :func:`geostl.runconfig.load_config`;
* defaults: :func:`fill_defaults` completes a validated config, :func:`defaults` lists them;
* the listing: :func:`key_rows` / :func:`format_keys` (``geostl config --keys [SECTION]``);
* the engine's ``TrainConfig`` / ``EvalConfig`` (their defaults, choices and key lists) and the
  forecaster's ``model`` keys.

The ``data`` and ``model`` sections are *open*: only their top-level keys are checked here;
their sub-keys are checked by their own builders (``geostl.data.DataConfig.from_dict``, the
backbone's registered signature).

Adding a key or a section
-------------------------
* A key of the run config for every run: add one ``_f(kind, default, ..., help="...")`` entry
  to its section in :data:`RUN_SPEC` below. For ``train`` / ``eval``, also add the field to
  ``geostl.engine.config.TrainConfig`` / ``EvalConfig`` (``name: type = _default(_TRAIN,
  "name")``) and its check in ``from_dict``: importing that module fails until both agree.
* Options of a task package (ENSO heads and loss weights, gap-filling options ...): build the
  package's spec from :data:`RUN_SPEC` without editing it, and pass it as ``spec=`` to
  ``load_config``::

      from geostl.runconfig import RUN_SPEC, Field, Section, with_keys, with_section

      ENSO_SPEC = with_section(
          with_keys(RUN_SPEC, "train", nino_weight=Field("float", 1.0, minimum=0,
                                                        help="weight of the Nino3.4 loss")),
          "enso",
          Section({"lead_months": Field("int", 24, minimum=1, help="forecast lead (months)")},
                  help="ENSO experiment options"),
      )
      cfg = load_config(paths, overrides, spec=ENSO_SPEC)

  ``geostl grid`` does the same with its ``grid`` section (``geostl.commands.grid.config``).

Errors are :class:`ConfigError` naming the dotted key, what was expected, close matches of an
unknown key (difflib) and where the value came from (a file or an override).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from geostl._keys import did_you_mean
from geostl.io import READERS

__all__ = [
    "ConfigError",
    "Field",
    "Section",
    "RUN_SPEC",
    "SOURCE_FORMATS",
    "check",
    "defaults",
    "fill_defaults",
    "format_keys",
    "key_rows",
    "with_keys",
    "with_section",
]

#: reader formats a ``data.sources`` entry may name (``paths`` + ``format``): the registry's
SOURCE_FORMATS = READERS.names()
#: ``data.sources.NAME.regrid`` values (see ``geostl.tasks.iono.regrid``)
REGRID_CHOICES = ("native", "iono72")
BASELINES = ("persistence", "sun_fixed", "climatology", "persistence_27d", "iri")
DEFAULT_BASELINES = ("persistence", "sun_fixed", "climatology")

_NO_DEFAULT = object()


class ConfigError(ValueError):
    """A run config that does not match the specification (message names key and origin)."""


@dataclass(frozen=True)
class Field:
    """A leaf: accepted ``kind`` (``int``/``float``/``bool``/``str``/``list``/``mapping``).

    ``nullable``: None is accepted. ``choices``: allowed values (for ``str``, or the items of
    a ``list``). ``items``: item kind of a list. ``minimum``: lower bound of a number.
    """

    kind: str
    default: Any = _NO_DEFAULT
    nullable: bool = False
    choices: tuple[Any, ...] | None = None
    items: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_min: bool = False
    validator: Callable[[Any, str, str | None, bool], None] | None = None
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT

    def describe(self) -> str:
        text = {"mapping": "a mapping", "list": "a list"}.get(self.kind, self.kind)
        if self.items:
            text += f" of {self.items}"
        if self.choices:
            what = "items in" if self.kind == "list" else "one of"
            text += f" ({what} {', '.join(map(str, self.choices))})"
        if self.minimum is not None:
            text += f" {'>' if self.exclusive_min else '>='} {self.minimum:g}"
        if self.maximum is not None:
            text += f" <= {self.maximum:g}"
        return text + (" or null" if self.nullable else "")


@dataclass(frozen=True)
class Section:
    """A mapping with known keys (``required``: must be present in a complete config)."""

    keys: dict[str, Field | Section]
    required: bool = False
    help: str = ""


def _check_sources(value: Any, dotted: str, origin: str | None, complete: bool) -> None:
    """``data.sources``: ``{NAME: {sample: str} | {paths: str | [str, ...], format: str}}``,
    each optionally with ``regrid`` (``native`` | ``iono72``), ``every`` (e.g. ``2h``) and
    ``load`` (read into memory once, after the transforms)."""
    expected = (
        f"expected {{sample: NAME}} or {{paths: [...], format: {'|'.join(SOURCE_FORMATS)}}}, "
        "optionally with regrid, every and load"
    )
    for name, entry in value.items():
        key = f"{dotted}.{name}"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"config key {key!r}{_where(origin)}: {expected}, got {entry!r}")
        keys = set(entry)
        allowed = ["every", "format", "load", "paths", "reader", "regrid", "sample", "weatherbench"]
        for k in keys:
            if k not in allowed:
                raise _unknown(str(k), f"{key}.{k}", allowed, origin)
        if "regrid" in keys:
            check_field(
                entry["regrid"], Field("str", choices=REGRID_CHOICES), key + ".regrid", origin
            )
        if "every" in keys:
            check_field(entry["every"], Field("str"), key + ".every", origin)
        if "load" in keys:
            check_field(entry["load"], Field("bool"), key + ".load", origin)
        if "weatherbench" in keys and not isinstance(entry["weatherbench"], Mapping):
            raise ConfigError(
                f"config key {key + '.weatherbench'!r}{_where(origin)}: expected a mapping "
                f"{{set: NAME}} or {{variables: [...], levels: [...], years: [first, last]}}, "
                f"got {entry['weatherbench']!r}"
            )
        if "reader" in keys and not isinstance(entry["reader"], Mapping):
            raise ConfigError(
                f"config key {key + '.reader'!r}{_where(origin)}: expected a mapping of the "
                f"reader's keyword arguments, got {entry['reader']!r}"
            )
        if not complete:
            # one layer (a file or an override such as data.sources.maps.paths=...) may give
            # part of an entry; the merged config is checked whole
            continue
        with_options = [r.name for r in READERS if r.options]
        if "reader" in keys and entry.get("format") not in with_options:
            raise ConfigError(
                f"config key {key + '.reader'!r}{_where(origin)}: only with the formats whose "
                f"reader takes options ({', '.join(with_options)}), got format "
                f"{entry.get('format')!r}"
            )
        core = keys - {"regrid", "every", "load", "weatherbench", "reader"}
        if "weatherbench" in keys and entry.get("format") != "weatherbench":
            raise ConfigError(
                f"config key {key + '.weatherbench'!r}{_where(origin)}: only with "
                f"format: weatherbench, got format {entry.get('format')!r}"
            )
        if "sample" in keys:
            if core != {"sample"} or not isinstance(entry["sample"], str):
                raise ConfigError(
                    f"config key {key!r}{_where(origin)}: {expected}, got {dict(entry)!r}"
                )
            continue
        if core != {"paths", "format"}:
            raise ConfigError(
                f"config key {key!r}{_where(origin)}: {expected}, got keys {sorted(keys)}"
            )
        paths = entry["paths"]
        if not (
            isinstance(paths, str)
            or (isinstance(paths, list) and paths and all(isinstance(p, str) for p in paths))
        ):
            raise ConfigError(
                f"config key {key + '.paths'!r}{_where(origin)}: expected a path or a non-empty "
                f"list of paths (str), got {paths!r}"
            )
        check_field(entry["format"], Field("str", choices=SOURCE_FORMATS), key + ".format", origin)


def _check_backbone(value: Any, dotted: str, origin: str | None, complete: bool) -> None:
    """``model.backbone``: ``{name: str, ...kwargs}`` (kwargs are checked by the builder)."""
    if "name" in value and not isinstance(value["name"], str):
        raise ConfigError(
            f"config key {dotted + '.name'!r}{_where(origin)}: expected str (a registered "
            f"backbone name), got {value['name']!r}"
        )
    if complete and "name" not in value:
        raise ConfigError(
            f"config key {dotted + '.name'!r} is missing{_where(origin)}: expected str "
            "(a registered backbone name)"
        )


def _f(kind: str, default: Any = _NO_DEFAULT, **kw: Any) -> Field:
    return Field(kind, default, **kw)


RUN_SPEC = Section(
    {
        "run": Section(
            {
                "name": _f(
                    "str",
                    None,
                    nullable=True,
                    help="run name; the run directory is run.dir/run.name "
                    "(null: the stem of the last config file)",
                ),
                "dir": _f(
                    "str",
                    "runs",
                    help="folder of the run directories (relative paths "
                    "are taken from the current directory)",
                ),
            },
            help="where the run writes its checkpoints, logs and figures",
        ),
        "data": Section(
            {
                "sources": _f(
                    "mapping",
                    validator=_check_sources,
                    help="named inputs: {NAME: {sample: S} or {paths: P, format: F}}, each "
                    "optionally with regrid, every (resampling step, e.g. 2h), reader "
                    "(video formats) and weatherbench (format: weatherbench)",
                ),
                "schema": _f(
                    "mapping",
                    help="targets, forcings and statics: which variables of which source "
                    "(checked by geostl.data.DataConfig)",
                ),
                "splits": _f("mapping", help="train / val / test time ranges {start, end} (UTC)"),
                "window": _f(
                    "mapping", help="t_in / t_out: maps in and maps forecast (time steps)"
                ),
                "normalisation": _f(
                    "mapping",
                    None,
                    nullable=True,
                    help="per-variable scalings; null: z-scores from the train split",
                ),
                "future_forcings": _f(
                    "str",
                    "known",
                    choices=("known", "oracle", "none"),
                    help="forcings over the forecast window: known (calendar, position), "
                    "oracle (observed values, an upper bound) or none",
                ),
                "padding": _f(
                    "mapping",
                    None,
                    nullable=True,
                    help="spatial padding of the maps (e.g. to a multiple of the patch size)",
                ),
            },
            required=True,
            help="data sources, variables, splits and windows (sub-keys: geostl.data)",
        ),
        "model": Section(
            {
                "backbone": _f(
                    "mapping",
                    validator=_check_backbone,
                    help="{name: a registered backbone (geostl models), ...its keyword "
                    "arguments}; NAME alone is short for {name: NAME}",
                ),
                "fusion": _f(
                    "str",
                    "concat",
                    help="how the forcings enter the backbone: a registered fusion "
                    "(concat, mixer, action, ...)",
                ),
                "residual": _f(
                    "str",
                    "none",
                    choices=("none", "last"),
                    help="last: forecast the change from the last input map; none: the maps",
                ),
                "baseline": _f(
                    "str",
                    "none",
                    choices=("none", "persistence", "sun_fixed", "climatology", "blend"),
                    help="start from this baseline: the backbone forecasts the correction to it "
                    "(readout zero, so the untrained model equals it); blend: per lead, the "
                    "least-squares mix of the three fitted on the val split",
                ),
                "frame": _f(
                    "str",
                    "geographic",
                    choices=("geographic", "sun_fixed"),
                    help="longitude frame of the backbone: geographic or sun_fixed (maps "
                    "rolled so that local noon stays in one column)",
                ),
                "output": _f(
                    "str",
                    "point",
                    choices=("point", "gaussian"),
                    help="point: one forecast map per lead; gaussian: also a per-pixel standard "
                    "deviation from a spread head (needs train.criterion crps or nll)",
                ),
                "spread_hidden": _f(
                    "int",
                    16,
                    minimum=1,
                    help="output gaussian: hidden width of the spread head's conv net",
                ),
            },
            required=True,
            help="the forecaster: backbone, fusion of the forcings, residual, frame and output",
        ),
        "train": Section(
            {
                "epochs": _f("int", 10, minimum=1, help="passes over the train split"),
                "batch_size": _f("int", 8, minimum=1, help="training windows per step"),
                "val_batch_size": _f("int", 4, minimum=1, help="windows per validation batch"),
                "num_workers": _f("int", 0, minimum=0, help="DataLoader worker processes"),
                "optimizer": _f("str", "adam", choices=("adam", "adamw"), help="optimiser"),
                "lr": _f("float", 1e-3, minimum=0, exclusive_min=True, help="peak learning rate"),
                "weight_decay": _f("float", 0.0, minimum=0, help="optimiser weight decay"),
                "schedule": _f(
                    "str",
                    "onecycle",
                    choices=("onecycle", "cosine", "constant"),
                    help="learning-rate schedule over all steps",
                ),
                "warmup_steps": _f("int", 0, minimum=0, help="linear warm-up (optimiser steps)"),
                "warmup_epochs": _f(
                    "int", 0, minimum=0, help="linear warm-up (epochs; not with warmup_steps)"
                ),
                "grad_clip": _f(
                    "float",
                    None,
                    nullable=True,
                    minimum=0,
                    exclusive_min=True,
                    help="clip the gradient norm to this value; null: no clipping",
                ),
                "criterion": _f(
                    "str",
                    "mse",
                    choices=("mse", "mae", "crps", "nll"),
                    help="loss on the normalised maps; crps / nll (the Gaussian's CRPS or "
                    "negative log likelihood) need model.output: gaussian",
                ),
                "precision": _f(
                    "str",
                    "auto",
                    choices=("auto", "fp32", "bf16", "fp16"),
                    help="number format of the training step: auto = bf16 (else fp16 with "
                    "loss scaling) on CUDA, fp32 on CPU; bf16 also runs on CPUs",
                ),
                "amp": _f(
                    "bool",
                    False,
                    help="older name for mixed precision: true = bf16 on CPU, fp16 on CUDA "
                    "(use train.precision)",
                ),
                "compile": _f("bool", False, help="torch.compile the model"),
                "device": _f(
                    "str",
                    "auto",
                    choices=("auto", "cpu", "cuda"),
                    help="auto: CUDA when available, else CPU",
                ),
                "early_stopping": _f(
                    "int",
                    None,
                    nullable=True,
                    minimum=1,
                    help="stop after this many epochs without a better validation loss",
                ),
                "seed": _f("int", 0, minimum=0, help="random seed (weights, shuffling)"),
                "max_minutes": _f(
                    "float",
                    None,
                    nullable=True,
                    minimum=0,
                    exclusive_min=True,
                    help="stop training after this many minutes (wall clock)",
                ),
                "max_steps_per_epoch": _f(
                    "int", None, nullable=True, minimum=1, help="cap on the steps of an epoch"
                ),
                "scheduled_sampling": Section(
                    {
                        "start": _f(
                            "float",
                            1.0,
                            minimum=0,
                            maximum=1,
                            help="initial probability of feeding the true frame",
                        ),
                        "decay_per_step": _f(
                            "float", 2.0e-5, minimum=0, help="linear decay per step"
                        ),
                        "min": _f("float", 0.0, minimum=0, maximum=1, help="lowest probability"),
                        "kind": _f(
                            "str",
                            "linear",
                            choices=("linear", "reverse"),
                            help="linear decay, or PredRNN-v2's reverse scheduled sampling",
                        ),
                        "r_sampling_step_1": _f(
                            "int", 25_000, minimum=0, help="reverse: step its ramp starts at"
                        ),
                        "r_sampling_step_2": _f(
                            "int", 50_000, minimum=0, help="reverse: step its ramp ends at"
                        ),
                        "r_exp_alpha": _f(
                            "float",
                            5_000.0,
                            minimum=0,
                            exclusive_min=True,
                            help="reverse: time constant of its exponential ramp (steps)",
                        ),
                    },
                    help="teacher forcing of the recurrent backbones (probabilities per step)",
                ),
                "log_every": _f("int", 10, minimum=1, help="log the loss every N steps"),
            },
            help="optimisation (geostl.engine.TrainConfig)",
        ),
        "eval": Section(
            {
                "batch_size": _f("int", 8, minimum=1, help="windows per test batch"),
                "baselines": _f(
                    "list",
                    list(DEFAULT_BASELINES),
                    items="str",
                    choices=BASELINES,
                    help="baselines scored beside the model (persistence_27d: the map 27 days "
                    "before; iri: IRI-2020 TEC from PyIRI, the iri extra)",
                ),
                "climatology_by": _f(
                    "str",
                    "time_of_day",
                    nullable=True,
                    choices=("time_of_day", "month", "dayofyear"),
                    help="phase the climatology baseline averages by",
                ),
                "figure_window": _f(
                    "int",
                    -1,
                    help="test window drawn in the figures (index, negative from the end)",
                ),
                "figure_leads": _f(
                    "list",
                    None,
                    nullable=True,
                    items="int",
                    help="lead indices drawn (negative from the end); null: 4 spread over t_out",
                ),
                "codebook_usage": _f(
                    "bool", False, help="record the SVQ code-usage diagnostic (SVQ models)"
                ),
                "references": _f(
                    "mapping",
                    {},
                    validator=_check_sources,
                    help="other forecasts scored beside the model, {LABEL: source entry} (e.g. "
                    "an agency's predicted IONEX maps: {paths: [...], format: ionex}), matched "
                    "by valid time on the targets' grid",
                ),
                "ensemble_members": _f(
                    "int",
                    0,
                    minimum=0,
                    help="score an ensemble of this many members beside the deterministic "
                    "forecast (CRPS, spread-skill, coverage, Brier, rank histogram); 0: none",
                ),
                "ensemble_method": _f(
                    "str",
                    "perturb",
                    choices=("perturb", "mc_dropout", "checkpoints"),
                    help="how members are made: perturb = Gaussian noise on the input maps "
                    "(ensemble_perturb_std); mc_dropout = the model's dropout left on; "
                    "checkpoints = this model and the ensemble_checkpoints (other seeds)",
                ),
                "ensemble_perturb_std": _f(
                    "float",
                    0.01,
                    minimum=0,
                    exclusive_min=True,
                    help="perturb: standard deviation of the noise added to every input map, "
                    "in normalised units (a fraction of each channel's normalisation scale)",
                ),
                "ensemble_checkpoints": _f(
                    "list",
                    [],
                    items="str",
                    help="checkpoints: the other members' checkpoint files (the same data and "
                    "model shape, e.g. runs of other train.seed); the evaluated model is member 0",
                ),
                "ensemble_seed": _f(
                    "int", 0, minimum=0, help="seed of the perturbations and dropout masks"
                ),
                "persistence_members": _f(
                    "int",
                    None,
                    nullable=True,
                    minimum=1,
                    help="members of the persistence ensemble scored beside a probabilistic "
                    "forecast: the last N input maps held; null: every input map (t_in)",
                ),
                "thresholds": _f(
                    "mapping",
                    {},
                    help="{CHANNEL: [X, ...]} event thresholds in the channel's physical unit "
                    "for the Brier score of a probabilistic forecast (e.g. {tec: [50.0]})",
                ),
                "coverage": _f(
                    "list",
                    [0.5, 0.9],
                    items="float",
                    help="nominal probabilities of the central intervals whose coverage is "
                    "reported for a probabilistic forecast",
                ),
                "iri_f107": _f(
                    "str",
                    "f107",
                    help="the F10.7 (sfu) that drives the iri baseline, taken at each issue "
                    "time: a scalar forcing channel of the run, or SOURCE.VARIABLE of "
                    "data.sources (e.g. omni.f107)",
                ),
            },
            help="testing (geostl.engine.EvalConfig)",
        ),
    },
    required=True,
)


def _where(origin: str | None) -> str:
    return f" (in {origin})" if origin else ""


def _unknown(key: str, dotted: str, allowed: list[str], origin: str | None) -> ConfigError:
    hint = did_you_mean(key, allowed)
    hint = f"; {hint}" if hint else ""
    return ConfigError(
        f"unknown config key {dotted!r}{_where(origin)}{hint} "
        f"(known keys here: {', '.join(sorted(allowed))})"
    )


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "list":
        return isinstance(value, list)
    if kind == "mapping":
        return isinstance(value, Mapping)
    raise AssertionError(f"unknown field kind {kind!r}")


def check_field(
    value: Any, spec: Field, dotted: str, origin: str | None = None, complete: bool = False
) -> Any:
    """Validate one leaf; return it (ints given for a float field become floats)."""

    def bad(why: str) -> ConfigError:
        return ConfigError(
            f"config key {dotted!r}{_where(origin)}: expected {spec.describe()}, {why}"
        )

    if value is None:
        if spec.nullable:
            return None
        raise bad("got null")
    if not _is_kind(value, spec.kind):
        raise bad(f"got {type(value).__name__} {value!r}")
    if spec.kind == "list":
        for i, item in enumerate(value):
            if spec.items and not _is_kind(item, spec.items):
                raise bad(f"item [{i}] is {type(item).__name__} {item!r}")
            if spec.choices and item not in spec.choices:
                hint = did_you_mean(item, spec.choices)
                hint = f" ({hint})" if hint else ""
                raise bad(f"item [{i}] is {item!r}{hint}")
        return list(value)
    if spec.choices and value not in spec.choices:
        hint = did_you_mean(value, spec.choices)
        hint = f" ({hint})" if hint else ""
        raise bad(f"got {value!r}{hint}")
    low = spec.minimum is not None and (
        value <= spec.minimum if spec.exclusive_min else value < spec.minimum
    )
    if low or (spec.maximum is not None and value > spec.maximum):
        raise bad(f"got {value!r}")
    if spec.validator is not None:
        spec.validator(value, dotted, origin, complete)
    return float(value) if spec.kind == "float" else value


def check(
    cfg: Mapping[str, Any],
    spec: Section = RUN_SPEC,
    origin: str | None = None,
    complete: bool = False,
    prefix: str = "",
) -> dict[str, Any]:
    """Validate ``cfg`` against ``spec``; return a normalised copy.

    Args:
        cfg: a config mapping (one file, one override or the merged result).
        origin: where it came from, for the messages (a file path or ``override 'k=v'``).
        complete: also require every required key (the merged config); otherwise a partial
            config (one layer) is accepted.
        prefix: dotted path of ``cfg`` inside the whole config.

    Raises:
        ConfigError: an unknown key, a wrong type or value, or (``complete``) a missing key.
    """
    if not isinstance(cfg, Mapping):
        name = prefix or "the config"
        raise ConfigError(
            f"{name!s}{_where(origin)}: expected a mapping, got {type(cfg).__name__} {cfg!r}"
        )
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        dotted = f"{prefix}{key}"
        if not isinstance(key, str) or key not in spec.keys:
            raise _unknown(str(key), dotted, list(spec.keys), origin)
        sub = spec.keys[key]
        if isinstance(sub, Section):
            if value is None and not sub.required:
                raise ConfigError(
                    f"config key {dotted!r}{_where(origin)}: expected a mapping, got null "
                    "(leave the key out to take the defaults)"
                )
            out[key] = check(value, sub, origin, complete, f"{dotted}.")
        else:
            out[key] = check_field(value, sub, dotted, origin, complete)
    if complete:
        for key, sub in spec.keys.items():
            if key in out:
                continue
            if (isinstance(sub, Section) and sub.required) or (
                isinstance(sub, Field) and sub.required
            ):
                raise ConfigError(
                    f"config key {prefix}{key!r} is missing{_where(origin)}: expected "
                    + ("a mapping" if isinstance(sub, Section) else sub.describe())
                )
    return out


def fill_defaults(cfg: Mapping[str, Any], spec: Section = RUN_SPEC) -> dict[str, Any]:
    """A copy of a validated ``cfg`` with every absent optional key set to its default."""
    out = dict(cfg)
    for key, sub in spec.keys.items():
        if isinstance(sub, Section):
            out[key] = fill_defaults(out.get(key) or {}, sub)
        elif key not in out and not sub.required:
            d = sub.default
            out[key] = list(d) if isinstance(d, list) else d
    return out


def with_section(spec: Section, name: str, section: Section | Field) -> Section:
    """A copy of ``spec`` with ``name`` added (or replaced) at the top level.

    The way a task package declares its own options: e.g. ``geostl grid`` checks its configs
    against ``with_section(RUN_SPEC, "grid", GRID_SECTION)``. Keys inside an existing section
    are added with :func:`with_keys`.
    """
    return Section({**spec.keys, name: section}, spec.required, spec.help)


def with_keys(spec: Section, dotted: str, **keys: Field | Section) -> Section:
    """A copy of ``spec`` with ``keys`` added to the section at ``dotted`` (e.g. ``"model"``).

    ``with_keys(RUN_SPEC, "train", loss_weights=Field("mapping", None, nullable=True,
    help="..."))`` accepts ``train.loss_weights`` (default null) everywhere ``spec`` is used:
    validation, defaults, ``geostl config --keys`` and the close matches of unknown keys.
    """
    head, _, rest = dotted.partition(".")
    sub = spec.keys.get(head)
    if not isinstance(sub, Section):
        raise KeyError(f"with_keys: {dotted!r} is not a section of the spec")
    new = (
        with_keys(sub, rest, **keys)
        if rest
        else Section({**sub.keys, **keys}, sub.required, sub.help)
    )
    return with_section(spec, head, new)


def defaults(spec: Section = RUN_SPEC) -> dict[str, Any]:
    """The default of every optional key, as a nested dict (sections with none are left out)."""
    out: dict[str, Any] = {}
    for key, sub in spec.keys.items():
        if isinstance(sub, Section):
            inner = defaults(sub)
            if inner:
                out[key] = inner
        elif not sub.required:
            out[key] = list(sub.default) if isinstance(sub.default, list) else sub.default
    return out


def key_rows(spec: Section = RUN_SPEC, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """``(dotted key, expected type, default, help)`` for every key of ``spec``, in order.

    Sections get a row of their own (type ``section``); a required key has default ``(required)``.
    """
    rows: list[tuple[str, str, str, str]] = []
    for key, sub in spec.keys.items():
        dotted = f"{prefix}{key}"
        if isinstance(sub, Section):
            rows.append((dotted, "section", "(required)" if sub.required else "", sub.help))
            rows.extend(key_rows(sub, f"{dotted}."))
        else:
            default = "(required)" if sub.required else _yaml_scalar(sub.default)
            rows.append((dotted, sub.describe(), default, sub.help))
    return rows


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(map(_yaml_scalar, value)) + "]"
    return str(value)


def format_keys(spec: Section = RUN_SPEC, section: str | None = None) -> str:
    """The key listing of ``geostl config --keys [SECTION]``: key, type, default, then help.

    ``section``: a dotted section (``train``, ``train.scheduled_sampling``) to list alone.
    """
    prefix = ""
    if section:
        for part in section.split("."):
            sub = spec.keys.get(part)
            if not isinstance(sub, Section):
                hint = did_you_mean(
                    part, [k for k, v in spec.keys.items() if isinstance(v, Section)]
                )
                raise ConfigError(
                    f"{section!r} is not a config section{'; ' + hint if hint else ''}"
                )
            spec, prefix = sub, f"{prefix}{part}."
    lines = []
    for key, kind, default, text in key_rows(spec, prefix):
        head = f"{key}: {kind}" + (f" = {default}" if default else "")
        lines.append(head + (f"\n    {text}" if text else ""))
    return "\n".join(lines) + "\n"
