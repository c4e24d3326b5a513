"""Gap-filling data and runs (seed 001): period layout, masked L1, cloud masks, the t2m run.

Public API:
    build_period_layout, PeriodLayout, tile_maps, untile_maps -- (``layout.py``)
    masked_l1                                                 -- (``loss.py``)
    cloud_mask                                                -- (``gap_masks.py``)
The model itself is :class:`geostl.models.gapfill.SpatioTemporalModel`.
"""

from geostl.gapfill.gap_masks import cloud_mask
from geostl.gapfill.layout import PERIODS, PeriodLayout, build_period_layout, tile_maps, untile_maps
from geostl.gapfill.loss import masked_l1

__all__ = [
    "PERIODS",
    "PeriodLayout",
    "build_period_layout",
    "cloud_mask",
    "masked_l1",
    "tile_maps",
    "untile_maps",
]
