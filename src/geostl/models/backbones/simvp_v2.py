"""SimVP.V2 (Tan et al., "SimVP: Towards Simple yet Powerful Spatiotemporal Predictive
Learning", arXiv:2211.12509, 2022): SimVP with the gated spatiotemporal attention (gSTA)
translator. Registered as ``simvp_v2``, an alias of :class:`~.simvp.SimVP` with the translator
fixed to gSTA.

Why an alias and not a separate model: OpenSTL has no SimVPv2 class or method. Its ``SimVP``
method builds ``SimVP_Model`` and the version is only the translator: ``model_type='IncepU'``
is SimVP v1, ``model_type='gSTA'`` (the default) is what OpenSTL's model zoo and benchmark
tables call "SimVPv2" / "SimVP+gSTA". The encoder, decoder, widths and rollout are the same, so
``simvp_v2`` is ``simvp`` without the ``model_type`` argument (same parameters, same
state-dict keys; the seed's Table 1 "SimVP" row, 50.53 M, is this model).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geostl.models.backbones.simvp import SimVP
from geostl.models.registry import BACKBONES


@BACKBONES.register("simvp_v2")
class SimVPv2(SimVP):
    """SimVP with the gSTA translator (``model_type`` fixed); arguments as :class:`SimVP`.

    Forward: ``(x, future_aux, t_out, truth=None, teacher_forcing=None)``
    → (B, t_out, C_out, H, W).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        out_channels: int,
        t_out: int,
        aux_channels: int = 0,
        hid_S: int = 64,
        hid_T: int = 512,
        N_S: int = 4,
        N_T: int = 8,
        mlp_ratio: float = 8.0,
        drop: float = 0.0,
        drop_path: float = 0.0,
        spatio_kernel_enc: int = 3,
        spatio_kernel_dec: int = 3,
        frame_transform: Any = None,
    ) -> None:
        super().__init__(
            in_shape,
            out_channels,
            t_out,
            aux_channels,
            hid_S=hid_S,
            hid_T=hid_T,
            N_S=N_S,
            N_T=N_T,
            model_type="gSTA",
            mlp_ratio=mlp_ratio,
            drop=drop,
            drop_path=drop_path,
            spatio_kernel_enc=spatio_kernel_enc,
            spatio_kernel_dec=spatio_kernel_dec,
            frame_transform=frame_transform,
        )
