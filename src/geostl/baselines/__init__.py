"""Reference forecasts that every model is compared with, through the same metrics.

The pure functions here take and return arrays (no run config): :mod:`geostl.engine.evaluate`
and :func:`geostl.evaluate` both build their baselines from them. :func:`iri_tec` needs the
``iri`` extra (PyIRI), imported only when it is called.
"""

from geostl.baselines.climatology import Climatology, phase_of
from geostl.baselines.iri import f107_at, iri_tec
from geostl.baselines.persistence import persistence
from geostl.baselines.recurrence import SOLAR_ROTATION, recurrence_forecast
from geostl.baselines.reference import check_reference, reference_forecast
from geostl.baselines.sun_fixed import rotation_weights, sun_fixed_persistence

__all__ = [
    "SOLAR_ROTATION",
    "Climatology",
    "check_reference",
    "f107_at",
    "iri_tec",
    "persistence",
    "phase_of",
    "recurrence_forecast",
    "reference_forecast",
    "rotation_weights",
    "sun_fixed_persistence",
]
