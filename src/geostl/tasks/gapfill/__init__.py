"""Gap-filling (ClimaNet): masked transformer from gappy hours to daily/monthly means.

Public API:
    build_period_layout, PeriodLayout, tile_maps, untile_maps -- (``layout.py``)
    masked_l1                                                 -- (``loss.py``)
    cloud_mask                                                -- (``gap_masks.py``)
    SpatioTemporalModel          -- the whole model (``model.py``)
    VideoEncoder                 -- masked Conv3d patch embedding (``video_encoder.py``)
    TemporalPositionalEncoding, TemporalAttentionAggregator -- (``temporal.py``)
    SpatialPositionalEncoding2D, SpatialTransformer         -- (``spatial.py``)
    MonthlyConvDecoder           -- per-period conv decoder with land mask (``decoder.py``)
The task itself (schema, datasets, loss, evaluation; registered in ``geostl.tasks.TASKS``) is
in ``schema.py``, ``data.py`` and ``task.py``; its ready config is
``configs/gapfill/t2m_gapfill_era5.yaml`` (``geostl.tasks.ready_config``).
"""

from geostl.tasks.gapfill.decoder import MonthlyConvDecoder
from geostl.tasks.gapfill.gap_masks import cloud_mask
from geostl.tasks.gapfill.layout import (
    PERIODS,
    PeriodLayout,
    build_period_layout,
    tile_maps,
    untile_maps,
)
from geostl.tasks.gapfill.loss import masked_l1
from geostl.tasks.gapfill.model import SpatioTemporalModel
from geostl.tasks.gapfill.spatial import SpatialPositionalEncoding2D, SpatialTransformer
from geostl.tasks.gapfill.temporal import TemporalAttentionAggregator, TemporalPositionalEncoding
from geostl.tasks.gapfill.video_encoder import VideoEncoder

__all__ = [
    "PERIODS",
    "MonthlyConvDecoder",
    "PeriodLayout",
    "SpatialPositionalEncoding2D",
    "SpatialTransformer",
    "SpatioTemporalModel",
    "TemporalAttentionAggregator",
    "TemporalPositionalEncoding",
    "VideoEncoder",
    "build_period_layout",
    "cloud_mask",
    "masked_l1",
    "tile_maps",
    "untile_maps",
]
