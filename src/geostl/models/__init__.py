"""Models: registries, backbones, fusions and the Forecaster.

``available()`` lists the backbones; ``build_backbone(name, **kwargs)`` builds one as a plain
``nn.Module``; ``build_forecaster(model_cfg, meta)`` composes a fusion and a backbone.
"""

from geostl.models import backbones, fusion  # noqa: F401  (registration side effects)
from geostl.models.forecaster import (
    Forecaster,
    available,
    build_backbone,
    build_forecaster,
    check_meta,
    count_parameters,
    meta_from_dataset,
)
from geostl.models.patching import patch, unpatch
from geostl.models.registry import BACKBONES, FUSIONS, HEADS, QUANTISERS, Registry
from geostl.models.scheduled_sampling import ScheduledSampling, teacher_forcing_probability

__all__ = [
    "BACKBONES",
    "FUSIONS",
    "HEADS",
    "QUANTISERS",
    "Forecaster",
    "Registry",
    "ScheduledSampling",
    "available",
    "build_backbone",
    "build_forecaster",
    "check_meta",
    "count_parameters",
    "meta_from_dataset",
    "patch",
    "teacher_forcing_probability",
    "unpatch",
]
