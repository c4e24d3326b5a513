"""The MetaFormer family of SimVP translator blocks (OpenSTL's ``MetaBlock`` model types),
registered in :data:`~.simvp_blocks.TRANSLATOR_BLOCKS` under their lower-case ``model_type``
(OpenSTL's aliases ``mlp`` and ``moga`` too). The blocks live in :mod:`geostl.models.blocks`,
each registering itself with a decorator; this module only imports them:

=============  ===============================================  ===================
model_type     block (in :mod:`geostl.models.blocks`)            module
=============  ===============================================  ===================
convmixer      ``ConvMixerBlock``                               metaformer_conv
convnext       ``ConvNeXtBlock``                                metaformer_conv
poolformer     ``PoolFormerBlock``                              metaformer_conv
van            ``VANBlock``                                     metaformer_conv
hornet         ``HorNetBlock``                                  metaformer_gated
moganet, moga  ``MogaNetBlock``                                 metaformer_gated
vit            ``ViTBlock``                                     metaformer_attention
swin           ``SwinBlock``                                    metaformer_attention
uniformer      ``uniformer_block`` (conv or attention block)    metaformer_attention
mlpmixer, mlp  ``MLPMixerBlock``                                metaformer_attention
=============  ===============================================  ===================

gSTA (:mod:`.simvp_blocks`), TAU (:mod:`.simvp_tau_block`) and IncepU (:mod:`.simvp_translators`)
are registered elsewhere.
"""

from __future__ import annotations

# importing the block modules registers them (each block's @TRANSLATOR_BLOCKS.register)
import geostl.models.blocks.metaformer_attention  # noqa: F401
import geostl.models.blocks.metaformer_conv  # noqa: F401
import geostl.models.blocks.metaformer_gated  # noqa: F401
