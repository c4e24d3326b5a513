"""geostl: spatiotemporal forecasting of Earth-science gridded fields.

The Python API in two calls (imported lazily, so ``import geostl`` stays light)::

    model = geostl.load("runs/tec_convlstm/best.pt")        # any trained checkpoint
    ds_out = model.forecast(ds_in, drivers={"omni": omni})   # xarray in, xarray out
    tables = geostl.evaluate(ds_out, truth)                  # score any forecast Dataset
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

#: public name -> (module, attribute), imported on first use
_LAZY = {
    "load": ("geostl.forecast.model", "load"),
    "evaluate": ("geostl.engine.score_datasets", "evaluate_datasets"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'geostl' has no attribute {name!r}")
