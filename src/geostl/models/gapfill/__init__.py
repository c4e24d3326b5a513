"""The masked gap-filling transformer of seed 001 (ClimaNet's SpatioTemporalModel).

Public API:
    SpatioTemporalModel          -- the whole model (``model.py``)
    VideoEncoder                 -- masked Conv3d patch embedding (``video_encoder.py``)
    TemporalPositionalEncoding, TemporalAttentionAggregator -- (``temporal.py``)
    SpatialPositionalEncoding2D, SpatialTransformer         -- (``spatial.py``)
    MonthlyConvDecoder           -- per-period conv decoder with land mask (``decoder.py``)
"""

from geostl.models.gapfill.decoder import MonthlyConvDecoder
from geostl.models.gapfill.model import SpatioTemporalModel
from geostl.models.gapfill.spatial import SpatialPositionalEncoding2D, SpatialTransformer
from geostl.models.gapfill.temporal import TemporalAttentionAggregator, TemporalPositionalEncoding
from geostl.models.gapfill.video_encoder import VideoEncoder

__all__ = [
    "MonthlyConvDecoder",
    "SpatialPositionalEncoding2D",
    "SpatialTransformer",
    "SpatioTemporalModel",
    "TemporalAttentionAggregator",
    "TemporalPositionalEncoding",
    "VideoEncoder",
]
