"""Reference forecasts that every model is compared with, through the same metrics."""

from geostl.baselines.climatology import Climatology, phase_of
from geostl.baselines.persistence import persistence
from geostl.baselines.sun_fixed import rotation_weights, sun_fixed_persistence

__all__ = ["Climatology", "persistence", "phase_of", "rotation_weights", "sun_fixed_persistence"]
