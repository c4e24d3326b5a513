"""Video-prediction benchmarks as pixel grids (the SVQ paper's KTH, Human3.6M, KittiCaltech and
TaxiBJ runs): :mod:`.sets` (the video folders' splits, scalings and ``data`` sections) and
:mod:`.taxibj` (TaxiBJ's release files). Runs are Forecaster runs (no ``task`` key); the
readers are in :mod:`geostl.io`."""
