"""Reusable network blocks shared by several backbones (stochastic depth, MetaFormer blocks).

Modules here are plain ``nn.Module`` definitions with no registry side effects; the SimVP
translator registry (:data:`geostl.models.backbones.simvp_blocks.TRANSLATOR_BLOCKS`) lists the
MetaFormer blocks in :mod:`geostl.models.backbones.simvp_metaformer`.
"""
