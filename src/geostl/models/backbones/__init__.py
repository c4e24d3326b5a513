"""Backbones; importing this package registers them in ``BACKBONES``."""

from geostl.models.backbones.convlstm import ConvLSTM, ConvLSTMCell
from geostl.models.backbones.simvp import SimVP
from geostl.models.backbones.simvp_blocks import TRANSLATOR_BLOCKS, GSTABlock
from geostl.models.backbones.simvp_translators import IncepUTranslator, MetaTranslator

__all__ = [
    "TRANSLATOR_BLOCKS",
    "ConvLSTM",
    "ConvLSTMCell",
    "GSTABlock",
    "IncepUTranslator",
    "MetaTranslator",
    "SimVP",
]
