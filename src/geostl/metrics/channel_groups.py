"""Metrics of groups of channels (e.g. one variable over its pressure levels), pooled exactly.

A multi-variable forecast (WeatherBench ``mv``: r, t, u, v at 150, 500 and 850 hPa) has one
target channel per (variable, level), and :class:`~geostl.metrics.ForecastMetrics` reports each
channel. OpenSTL also reports one number per *variable* (``mse_r``, ``mse_t``, ...). Because
every metric is a ratio of additive sums, the pooled metric of a group is the ratio of the
group's summed sums, e.g. for variable r and weighting g::

    MSE_r = sum_{c in r} sum w_g (p - y)^2  /  sum_{c in r} sum w_g

which equals the mean of the channels' MSEs only when their weight sums are equal. A group's
channels must share one unit (pooling K with m s^-1 has no physical meaning).

:func:`variable_tables` pools every forecast's accumulated metrics (the model and each
baseline) into per-variable :class:`~geostl.metrics.MetricTable` s whose notes say how the
pooled mean was taken; :func:`mean_over_variables` gives the single figure OpenSTL reports for
a multi-variable set, the plain (unweighted) mean of the per-variable values.
"""

from __future__ import annotations

import copy
import math
import re
import warnings
from collections.abc import Mapping, Sequence

import torch

from geostl.metrics.accumulator import WeightedSums
from geostl.metrics.forecast import ForecastMetrics
from geostl.metrics.table import MetricTable

__all__ = [
    "MEAN_OVER_VARIABLES",
    "POOLING_NOTE",
    "level_groups",
    "mean_over_variables",
    "pool_channels",
    "variable_groups",
    "variable_tables",
]

#: how a per-variable value is formed (prefixed to every metric note of a pooled table)
POOLING_NOTE = (
    "per variable: the ratio of the weighted sums added up over the variable's levels "
    "(e.g. MSE_r = sum over levels of sum w (pred - target)^2 / sum over levels of sum w), "
    "not OpenSTL's mean of the per-channel values"
)
#: the channel label of :func:`mean_over_variables`
MEAN_OVER_VARIABLES = "mean over variables"

_LEVEL = re.compile(r"^(?P<var>.+)_(?P<level>\d+)$")


def level_groups(channel_names: Sequence[str]) -> dict[str, list[str]]:
    """Group channels named ``<variable>_<level>`` (``r_150``) by variable, in first-seen order.

    A channel without a numeric level suffix (``t2m``, ``tcc``) is its own group.

    Example:
        >>> level_groups(["r_150", "r_500", "t_150", "t2m"])
        {'r': ['r_150', 'r_500'], 't': ['t_150'], 't2m': ['t2m']}
    """
    groups: dict[str, list[str]] = {}
    for name in channel_names:
        m = _LEVEL.match(name)
        groups.setdefault(m.group("var") if m else name, []).append(name)
    return groups


def pool_channels(fm: ForecastMetrics, groups: Mapping[str, Sequence[str]]) -> ForecastMetrics:
    """A ForecastMetrics whose channels are the groups, with each group's sums added up.

    Args:
        fm: accumulated metrics (after ``update``/``all_reduce``); left unchanged.
        groups: ``{group name: [channel, ...]}``; every channel of ``fm`` at most once.

    Returns:
        a new :class:`ForecastMetrics` with ``channel_names`` = the group names, the group's
        unit, and every sum (T, C) -> (T, G); ``compute()`` gives the pooled MSE, MAE, RMSE,
        bias, ACC, skills (plain and latitude-weighted) in physical units.

    Raises:
        ValueError: an empty group, an unknown or repeated channel, a group whose channels
            have different units, or ``fm`` without data.
    """
    if "plain/w" not in fm.sums:
        raise ValueError("pool_channels: no data; call update() first")
    index = {c: i for i, c in enumerate(fm.channel_names)}
    seen: set[str] = set()
    columns: list[list[int]] = []
    units: dict[str, str] = {}
    for name, members in groups.items():
        if not members:
            raise ValueError(f"pool_channels: group {name!r} is empty")
        for c in members:
            if c not in index:
                raise ValueError(
                    f"pool_channels: group {name!r} names channel {c!r}; channels are "
                    f"{fm.channel_names}"
                )
            if c in seen:
                raise ValueError(f"pool_channels: channel {c!r} is in more than one group")
            seen.add(c)
        group_units = {fm.units[c] for c in members if c in fm.units}
        if len(group_units) > 1:
            raise ValueError(
                f"pool_channels: group {name!r} mixes units {sorted(group_units)} ({list(members)})"
            )
        if group_units and len(group_units) == 1 and all(c in fm.units for c in members):
            units[name] = group_units.pop()
        columns.append([index[c] for c in members])
    sums = WeightedSums()
    for key in fm.sums.names():
        value = fm.sums[key]
        sums.add(key, torch.stack([value[..., cols].sum(dim=-1) for cols in columns], dim=-1))
    pooled = copy.copy(fm)
    pooled.channel_names = [str(g) for g in groups]
    pooled.units = units
    pooled.sums = sums
    pooled.data_range = None
    return pooled


def variable_groups(
    channel_names: Sequence[str], units: Mapping[str, str] | None = None
) -> dict[str, list[str]] | None:
    """:func:`level_groups` of the channels when some variable has more than one level, else
    None (single-channel and ungrouped sets get no per-variable tables).

    A group whose channels carry different ``units`` is not a variable over levels (e.g.
    ``x_1`` in m and ``x_2`` in K): a warning names it and None is returned.
    """
    groups = level_groups(channel_names)
    if all(len(members) == 1 for members in groups.values()):
        return None
    units = dict(units or {})
    for name, members in groups.items():
        have = {units.get(c) for c in members}
        if len(have) > 1:
            warnings.warn(
                f"per-variable tables left out: group {name!r} ({members}) mixes units "
                f"{sorted(str(u) for u in have)}",
                stacklevel=2,
            )
            return None
    return groups


def variable_tables(
    metrics: Mapping[str, ForecastMetrics], groups: Mapping[str, Sequence[str]]
) -> dict[str, MetricTable]:
    """Per-variable tables of every forecast: ``{forecast: pool_channels(fm, groups).compute()}``.

    Args:
        metrics: ``{forecast label: ForecastMetrics}`` with data, after ``all_reduce`` (pool
            after the reduce: the pooled sums are then those of every process).
        groups: ``{variable: [channel, ...]}``, e.g. from :func:`variable_groups`.

    Returns:
        ``{forecast label: MetricTable}`` with one channel per variable, in physical units,
        plain and (when the metrics have latitudes) latitude-weighted; every metric note starts
        with :data:`POOLING_NOTE`.
    """
    out: dict[str, MetricTable] = {}
    for label, fm in metrics.items():
        table = pool_channels(fm, groups).compute()
        table.notes = {m: f"{POOLING_NOTE}; {note}" for m, note in table.notes.items()}
        out[label] = table
    return out


def mean_over_variables(
    table: MetricTable, metrics: Sequence[str] = ("mse", "mae", "rmse")
) -> MetricTable:
    """OpenSTL's single figure for a multi-variable set: the plain mean of per-variable values.

    Args:
        table: a per-variable table (from :func:`variable_tables`).
        metrics: the metrics to average (default MSE, MAE and RMSE, as OpenSTL reports).

    Returns:
        a MetricTable with the one channel :data:`MEAN_OVER_VARIABLES`: for every metric, lead
        and weighting, the unweighted mean over the G variables of their values (so the RMSE
        row is the mean of per-variable RMSEs, not the root of the mean MSE). When the
        variables have different units the mean mixes them and carries no unit.
    """
    variables = table.channels()
    rows = []
    for metric in metrics:
        for weighting in table.weightings(metric):
            sub = table.select(metric=metric, weighting=weighting)
            for lead in sub.leads():
                values = [sub.value(metric, v, lead, weighting) for v in variables]
                rows.append(
                    {
                        "metric": metric,
                        "channel": MEAN_OVER_VARIABLES,
                        "lead": lead,
                        "weighting": weighting,
                        "value": math.fsum(values) / len(values),
                    }
                )
    units = {table.units.get(v) for v in variables}
    one_unit = units.pop() if len(units) == 1 else None
    mixed = "" if one_unit else " (the variables' units differ: the mean mixes them)"
    notes = {
        m: f"plain (unweighted) mean over the {len(variables)} variables {variables} of their "
        f"per-variable {m}, as OpenSTL reports for a multi-variable set{mixed}"
        for m in metrics
    }
    return MetricTable(
        rows,
        notes,
        {MEAN_OVER_VARIABLES: one_unit} if one_unit else {},
        {m: table.metric_units[m] for m in metrics if m in table.metric_units},
    )
