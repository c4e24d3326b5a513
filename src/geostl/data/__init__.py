"""From datasets to samples: channel schema, alignment, splits, normalisation, masks, windows.

Public API::

    from geostl.data import DataConfig, build_datasets
    datasets = build_datasets(config_dict, {"maps": tec_ds, "omni": omni_ds})
    sample = datasets["train"][0]        # dict of tensors, see geostl.data.windows
"""

from .align import ALIGN_RULES, align_indices, align_series
from .config import DataConfig, build_datasets
from .features import COMPUTED_FEATURES, DEFAULT_FIXED_SCALING
from .forcings import ForcingStack
from .masks import GridAdjust, combine_masks, crop_to_multiple, pad_to_multiple, validity_mask
from .normalise import Normaliser, RunningStats, fit_normaliser
from .schema import ChannelSchema, ForcingSpec, StaticSpec
from .splits import Split, check_splits, parse_splits
from .static import build_static
from .subsample import subsample_time
from .timeaxis import TargetAxis, target_axis, window_starts
from .windows import FUTURE_POLICIES, WindowDataset

__all__ = [
    "ALIGN_RULES",
    "COMPUTED_FEATURES",
    "DEFAULT_FIXED_SCALING",
    "FUTURE_POLICIES",
    "ChannelSchema",
    "DataConfig",
    "ForcingSpec",
    "ForcingStack",
    "GridAdjust",
    "Normaliser",
    "RunningStats",
    "Split",
    "StaticSpec",
    "TargetAxis",
    "WindowDataset",
    "align_indices",
    "align_series",
    "build_datasets",
    "build_static",
    "check_splits",
    "combine_masks",
    "crop_to_multiple",
    "fit_normaliser",
    "pad_to_multiple",
    "parse_splits",
    "subsample_time",
    "target_axis",
    "validity_mask",
    "window_starts",
]
