"""Backbones; importing this package registers them in ``BACKBONES``.

Every module of this package is imported here (in name order), so a new backbone is one file
with a ``@BACKBONES.register("name")`` class and nothing else to edit.
"""

import importlib
import pkgutil

from geostl.models.backbones.convlstm import ConvLSTM, ConvLSTMCell
from geostl.models.backbones.simvp import SimVP
from geostl.models.backbones.simvp_blocks import TRANSLATOR_BLOCKS, GSTABlock
from geostl.models.backbones.simvp_translators import IncepUTranslator, MetaTranslator

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if not _module.startswith("_"):
        importlib.import_module(f"{__name__}.{_module}")

__all__ = [
    "TRANSLATOR_BLOCKS",
    "ConvLSTM",
    "ConvLSTMCell",
    "GSTABlock",
    "IncepUTranslator",
    "MetaTranslator",
    "SimVP",
]
