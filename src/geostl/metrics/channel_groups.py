"""Metrics of groups of channels (e.g. one variable over its pressure levels), pooled exactly.

A multi-variable forecast (WeatherBench ``mv``: r, t, u, v at 150, 500 and 850 hPa) has one
target channel per (variable, level), and :class:`~geostl.metrics.ForecastMetrics` reports each
channel. OpenSTL also reports one number per *variable* (``mse_r``, ``mse_t``, ...). Because
every metric is a ratio of additive sums, the pooled metric of a group is the ratio of the
group's summed sums, e.g. for variable r and weighting g::

    MSE_r = sum_{c in r} sum w_g (p - y)^2  /  sum_{c in r} sum w_g

which equals the mean of the channels' MSEs only when their weight sums are equal. A group's
channels must share one unit (pooling K with m s^-1 has no physical meaning).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence

import torch

from geostl.metrics.accumulator import WeightedSums
from geostl.metrics.forecast import ForecastMetrics

__all__ = ["level_groups", "pool_channels"]

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
