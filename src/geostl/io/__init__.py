"""Readers of real Earth-science formats, each returning an ``xarray.Dataset``.

Conventions: dims ``time``/``lat``/``lon`` where they apply, ``time`` datetime64[ns] UTC,
every data variable with ``units`` and ``long_name``, missing values NaN, and the source
file names in ``attrs["source_files"]``. See ``docs/data.md``.
"""

from geostl.io.celestrak import open_celestrak
from geostl.io.cobe import open_cobe_sst
from geostl.io.gridded import normalise_dims, open_dataset
from geostl.io.indices import open_index
from geostl.io.ionex import open_ionex
from geostl.io.iono_tfrecord import open_iono_tfrecord
from geostl.io.lzw import decompress_lzw
from geostl.io.omni2 import OMNI2_COLUMNS, open_omni2
from geostl.io.oni_table import open_oni_table
from geostl.io.taxibj import open_taxibj
from geostl.io.weatherbench import open_weatherbench

__all__ = [
    "OMNI2_COLUMNS",
    "decompress_lzw",
    "normalise_dims",
    "open_celestrak",
    "open_cobe_sst",
    "open_dataset",
    "open_index",
    "open_ionex",
    "open_iono_tfrecord",
    "open_omni2",
    "open_oni_table",
    "open_taxibj",
    "open_weatherbench",
]
