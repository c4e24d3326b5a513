"""The translator-block interface: every registered block is built from one ``BlockArgs``."""

from __future__ import annotations

import inspect

import pytest
import torch

import geostl.models.backbones  # noqa: F401  (loads and registers every block)
from geostl.models.backbones.simvp_blocks import GSTABlock, LayerScaledAttentionBlock
from geostl.models.backbones.simvp_tau_block import TAUBlock
from geostl.models.blocks.base import TRANSLATOR_BLOCKS, BlockArgs
from geostl.models.registry import Registry


@pytest.mark.parametrize("name", TRANSLATOR_BLOCKS.available())
def test_block_takes_one_block_args(name: str) -> None:
    ctor = TRANSLATOR_BLOCKS.get(name)
    params = list(inspect.signature(ctor).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    assert params[0].name == "args", f"{name}: first parameter is {params[0].name!r}"
    for p in params[1:]:  # the block's own settings: keyword-only, with defaults
        assert p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not p.empty, (name, p)
    torch.manual_seed(0)
    block = ctor(BlockArgs(32, mlp_ratio=2.0, input_resolution=(8, 8), layer_index=1)).eval()
    x = torch.randn(2, 32, 8, 8)
    with torch.no_grad():
        assert block(x).shape == x.shape


def test_gsta_and_tau_share_the_block_and_differ_in_attention() -> None:
    args = BlockArgs(64, mlp_ratio=4.0, drop_path=0.1)
    gsta, tau = GSTABlock(args), TAUBlock(args)
    assert isinstance(gsta, LayerScaledAttentionBlock) and isinstance(
        tau, LayerScaledAttentionBlock
    )
    shared = {k for k in gsta.state_dict() if not k.startswith("attn.")}
    assert shared == {k for k in tau.state_dict() if not k.startswith("attn.")}
    assert type(gsta.attn).__name__ == "SpatialAttention"
    assert type(tau.attn).__name__ == "TemporalAttention"
    # per-block counts of the module docstrings: gSTA 20·d² + 175·d at mlp_ratio 8
    d = 64
    assert sum(p.numel() for p in GSTABlock(BlockArgs(d)).parameters()) == 20 * d * d + 175 * d
    assert sum(p.numel() for p in TAUBlock(BlockArgs(d)).parameters()) == 19 * d * d + 206 * d


def test_block_args_checks_and_helpers() -> None:
    with pytest.raises(ValueError, match=r"BlockArgs\.dim: expected a positive int"):
        BlockArgs(0)
    assert BlockArgs(8).keeps_width and BlockArgs(8, out_dim=8).keeps_width
    assert not BlockArgs(8, out_dim=16).keeps_width
    assert BlockArgs(8, input_resolution=[4, 6]).input_resolution == (4, 6)
    with pytest.raises(ValueError, match=r"swin: needs BlockArgs\.input_resolution=\(h, w\)"):
        TRANSLATOR_BLOCKS.get("swin")(BlockArgs(16))


def test_a_new_block_is_one_registration() -> None:
    blocks = Registry("test block")

    @blocks.register("identity")
    class Identity(torch.nn.Module):
        def __init__(self, args: BlockArgs) -> None:
            super().__init__()
            self.dim = args.dim

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    assert blocks.get("identity")(BlockArgs(4)).dim == 4
    with pytest.raises(ValueError, match="'identity' is already registered"):
        blocks.register("identity")(Identity)
