"""The MetaFormer family of SimVP translator blocks (OpenSTL's ``MetaBlock`` model types),
registered in :data:`~.simvp_blocks.TRANSLATOR_BLOCKS` under their lower-case ``model_type``
(OpenSTL's aliases ``mlp`` and ``moga`` too). The blocks live in :mod:`geostl.models.blocks`:

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

from geostl.models.backbones.simvp_blocks import TRANSLATOR_BLOCKS
from geostl.models.blocks.metaformer_attention import (
    MLPMixerBlock,
    SwinBlock,
    ViTBlock,
    uniformer_block,
)
from geostl.models.blocks.metaformer_conv import (
    ConvMixerBlock,
    ConvNeXtBlock,
    PoolFormerBlock,
    VANBlock,
)
from geostl.models.blocks.metaformer_gated import HorNetBlock, MogaNetBlock

METAFORMER_BLOCKS = {
    "convmixer": ConvMixerBlock,
    "convnext": ConvNeXtBlock,
    "hornet": HorNetBlock,
    "mlpmixer": MLPMixerBlock,
    "mlp": MLPMixerBlock,
    "moganet": MogaNetBlock,
    "moga": MogaNetBlock,
    "poolformer": PoolFormerBlock,
    "swin": SwinBlock,
    "uniformer": uniformer_block,
    "van": VANBlock,
    "vit": ViTBlock,
}

for _name, _block in METAFORMER_BLOCKS.items():
    TRANSLATOR_BLOCKS.register(_name)(_block)
