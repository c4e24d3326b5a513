"""The translator-block interface: :class:`BlockArgs` and the ``TRANSLATOR_BLOCKS`` registry.

A SimVP translator block maps latents (N, dim, h, w) → (N, dim, h, w), dim = T·hid_S stacked
frame channels (or the translator's hidden width hid_T). :class:`~geostl.models.backbones.
simvp_translators.MetaTranslator` stacks N_T of them and builds each from one
:class:`BlockArgs`; a block takes that object (plus keyword-only settings of its own with
defaults, e.g. a kernel size) and may ignore the fields it does not need::

    @TRANSLATOR_BLOCKS.register("myblock")
    class MyBlock(nn.Module):
        def __init__(self, args: BlockArgs, *, kernel_size: int = 7) -> None: ...

So a new block is one file plus that one registration (and an import in
:mod:`geostl.models.backbones.simvp_metaformer` so that the module is loaded). The registry
lives here, beside the blocks, so that block modules need not import the backbones package.
"""

from __future__ import annotations

from dataclasses import dataclass

from geostl.models.registry import Registry

__all__ = ["TRANSLATOR_BLOCKS", "BlockArgs"]

#: translator blocks by lower-case ``model_type`` (OpenSTL's names and aliases)
TRANSLATOR_BLOCKS = Registry("SimVP translator block (model_type)")


@dataclass(frozen=True)
class BlockArgs:
    """What the translator tells one block.

    Attributes:
        dim: channels of the block's input and output (N, dim, h, w).
        mlp_ratio: hidden width of the block's MLP as a multiple of ``dim`` (OpenSTL 8.0).
        drop: dropout probability inside the block (MLP and attention projections).
        drop_path: stochastic-depth probability of the block's residual branches.
        input_resolution: latent grid (h, w) in cells; needed by blocks whose weights depend
            on it (Swin windows, MLP-Mixer token MLP), None when not known.
        layer_index: position of the block in the stack, 0 first (Swin's shifted windows on
            odd layers, UniFormer's conv block first).
        out_dim: channels the translator's 1×1 reduction maps this block's output to
            (UniFormer picks its attention block only when it keeps the width); None: ``dim``.
    """

    dim: int
    mlp_ratio: float = 8.0
    drop: float = 0.0
    drop_path: float = 0.0
    input_resolution: tuple[int, int] | None = None
    layer_index: int = 0
    out_dim: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.dim, int) or self.dim < 1:
            raise ValueError(f"BlockArgs.dim: expected a positive int (channels), got {self.dim!r}")
        if self.input_resolution is not None:
            object.__setattr__(self, "input_resolution", tuple(self.input_resolution))

    @property
    def keeps_width(self) -> bool:
        """Whether the block's output keeps its width (``out_dim`` None or equal to ``dim``)."""
        return self.out_dim is None or self.out_dim == self.dim

    def resolution(self, name: str) -> tuple[int, int]:
        """``input_resolution`` as (h, w) ints; a block ``name`` that needs it stops without."""
        res = self.input_resolution
        if res is None or len(res) != 2:
            raise ValueError(f"{name}: needs BlockArgs.input_resolution=(h, w), got {res!r}")
        return int(res[0]), int(res[1])
