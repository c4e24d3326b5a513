"""From public archives to local files and stores: ``geostl fetch`` and ``geostl ingest``.

- :mod:`.products`: the catalogue (``PRODUCTS``): URL and name rules of each archive by date.
- :mod:`.download`: one resumable, retried download; netrc logins sent only to their host.
- :mod:`.checks`: checksum lists and format checks of downloaded files.
- :mod:`.fetch`: :func:`fetch` a product's date range into the data folder, in parallel.
- :mod:`.ingest`: :func:`ingest` many files into one Zarr / NetCDF store, appendable.

Only :mod:`.download` and :mod:`.fetch` touch the network, and only when called.
"""

from geostl.archives.fetch import FetchReport, fetch, plan, resolve_data_dir
from geostl.archives.products import PRODUCTS, Item, Product, product

__all__ = [
    "PRODUCTS",
    "FetchReport",
    "Item",
    "Product",
    "fetch",
    "plan",
    "product",
    "resolve_data_dir",
]
