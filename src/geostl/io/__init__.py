"""Readers of real Earth-science formats, each returning an ``xarray.Dataset``.

Conventions: dims ``time``/``lat``/``lon`` where they apply, ``time`` datetime64[ns] UTC,
every data variable with ``units`` and ``long_name``, missing values NaN, and the source
file names in ``attrs["source_files"]``. See ``docs/data.md``.

Every reader registers itself in :data:`READERS` (``geostl.io.registry``) under the format name
a run config's ``data.sources.NAME.format`` uses; importing this package fills the registry.
"""

from geostl.io.celestrak import open_celestrak
from geostl.io.cobe import open_cobe_sst
from geostl.io.gridded import normalise_dims, open_dataset
from geostl.io.human36m import open_human36m
from geostl.io.indices import open_index
from geostl.io.ionex import open_ionex
from geostl.io.ionex_write import IonexWritten, write_ionex
from geostl.io.iono_tfrecord import open_iono_tfrecord
from geostl.io.kitticaltech import open_kitticaltech
from geostl.io.kth import open_kth
from geostl.io.lzw import decompress_lzw
from geostl.io.omni2 import OMNI2_COLUMNS, open_omni2
from geostl.io.oni_table import open_oni_table
from geostl.io.registry import READERS, Reader, ReaderOptionError
from geostl.io.taxibj import open_taxibj
from geostl.io.weatherbench import open_weatherbench

__all__ = [
    "OMNI2_COLUMNS",
    "IonexWritten",
    "READERS",
    "Reader",
    "ReaderOptionError",
    "decompress_lzw",
    "normalise_dims",
    "open_celestrak",
    "open_cobe_sst",
    "open_dataset",
    "open_human36m",
    "open_index",
    "open_ionex",
    "open_iono_tfrecord",
    "open_kitticaltech",
    "open_kth",
    "open_omni2",
    "open_oni_table",
    "open_taxibj",
    "open_weatherbench",
    "write_ionex",
]
