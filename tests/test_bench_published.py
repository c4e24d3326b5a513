"""FLOP counter against OpenSTL's published FLOPs (fvcore multiply-adds) of registered models.

Counted on the meta device (shapes only, no arithmetic), so it is fast. Published figures:
OpenSTL's model-zoo tables (Tan et al. 2023; fvcore counts one multiply-add as one
FLOP, i.e. our MACs).
"""

from __future__ import annotations

import pytest
import torch

from geostl.benchmark import count_flops

CONV = {"num_hidden": [128] * 4, "filter_size": 5}
CASES = [
    # name, kwargs, (T, C, H, W), published GMACs
    ("convlstm", {**CONV, "patch_size": 4}, (10, 1, 64, 64), 56.8),
    ("convlstm", {**CONV, "patch_size": 2}, (12, 1, 32, 64), 136),
    ("simvp", {"model_type": "gSTA", "hid_S": 64, "hid_T": 512, "N_S": 4, "N_T": 8},
     (10, 1, 64, 64), 16.5),
    ("simvp", {"model_type": "IncepU", "hid_S": 64, "hid_T": 512, "N_S": 4, "N_T": 8},
     (10, 1, 64, 64), 19.4),
    ("simvp", {"model_type": "gSTA", "hid_S": 32, "hid_T": 256, "N_S": 2, "N_T": 8},
     (12, 1, 32, 64), 7.01),
]  # fmt: skip


@pytest.mark.parametrize(("name", "kwargs", "shape", "gmacs"), CASES)
def test_macs_match_openstl_published(name: str, kwargs: dict, shape: tuple, gmacs: float) -> None:
    models = pytest.importorskip("geostl.models")
    if name not in models.available():
        pytest.skip(f"backbone {name!r} not registered")
    t = shape[0]
    net = models.build_backbone(
        name, in_shape=shape, out_channels=shape[1], t_out=t, aux_channels=0, **kwargs
    )
    net = net.eval().to("meta")
    fc = count_flops(net, (torch.empty(1, *shape, device="meta"), None, t))
    assert fc.macs / 1e9 == pytest.approx(gmacs, rel=0.01)
