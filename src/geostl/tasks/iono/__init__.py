"""Ionospheric TEC forecasting (the Channel Mixer paper's data family).

The iono channel set and its fixed scalings (:mod:`.channels`: ``IONO_CHANNELS``,
``iono_data_section`` for a run config's ``data`` section) and the regridding of IONEX maps to
the 72 x 72 iono grid (:mod:`.regrid`). Runs are Forecaster runs (no ``task`` key): the parts
here produce run-config sections and sources for the generic pipeline.
"""

from geostl.tasks.iono.channels import (
    IONO_CHANNELS,
    IonoChannel,
    iono_channels,
    iono_data_section,
    keep_first_channels,
)
from geostl.tasks.iono.regrid import regrid_ionex

__all__ = [
    "IONO_CHANNELS",
    "IonoChannel",
    "iono_channels",
    "iono_data_section",
    "keep_first_channels",
    "regrid_ionex",
]
