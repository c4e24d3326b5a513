"""Built-in real data samples: ``sample(name)`` and ``available()``."""

from geostl.datasets.samples import available, sample

__all__ = ["available", "sample"]
