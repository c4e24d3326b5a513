"""Reusable network blocks shared by several backbones (stochastic depth, MetaFormer blocks).

The SimVP translator interface is :mod:`.base`: :class:`~.base.BlockArgs` (the one argument
object every translator block is built from) and the registry
:data:`~.base.TRANSLATOR_BLOCKS`, which the MetaFormer block modules (``metaformer_*.py``) fill
with decorators when imported (:mod:`geostl.models.backbones.simvp_metaformer` imports them).
"""
