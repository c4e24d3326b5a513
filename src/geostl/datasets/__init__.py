"""Built-in real data samples: ``sample(name)`` and ``available()``."""

from geostl.datasets.samples import SAMPLE_FORMATS, available, sample

__all__ = ["SAMPLE_FORMATS", "available", "sample"]
