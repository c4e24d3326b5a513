"""Figures of the Channel Mixer Layer on a real frame, for docs/fusion.md.

Builds the seed's iono channel set from ``configs/grid_tec.yaml`` (its data section is
``configs/iono_data.yaml``: the built-in UPC TEC maps regridded to 72 x 72 and their OMNI2
drivers, with the seed's fixed scalings), takes the first
input frame of the first training window, and draws it with ``fusion: mixer`` in the two
layouts the seed uses:

- ``mixer_c4_raster.png``: C = 4 (TEC, lon, lat, year) as SimVP / TAU read it (raster, 72 x 72);
- ``mixer_c16_patched.png``: C = 16 as the recurrent backbones read it (patch 4, 18 x 18 grid,
  k = 4 does not divide 18: the block rule wraps cell rows).

Usage::

    python scripts/fusion_figures.py --out docs/figures
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from geostl.commands.grid import load_grid_config
from geostl.commands.run import data_section
from geostl.data import build_datasets
from geostl.outputs.mixer_figure import plot_mixed_frame
from geostl.runconfig import open_sources
from geostl.tasks.iono.channels import keep_first_channels

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "grid_tec.yaml"


def first_frame(n_channels: int) -> tuple[np.ndarray, list[str]]:
    """(C, 72, 72) network-unit values of the first training input frame, and channel names."""
    cfg = load_grid_config([CONFIG])
    data = keep_first_channels(data_section(cfg), n_channels)
    datasets = build_datasets(data, open_sources(cfg["data"]["sources"], base_dir=CONFIG.parent))
    train = datasets["train"]
    item = train[0]
    frame = np.concatenate([item["inputs"][0].numpy(), item["forcings_in"][0].numpy()])
    names = list(train.target_names) + list(train.forcing_names)
    return frame, names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/figures", help="output folder")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frame, names = first_frame(4)
    print(plot_mixed_frame(out / "mixer_c4_raster.png", frame, names, layout="raster"))
    frame, names = first_frame(16)
    print(
        plot_mixed_frame(
            out / "mixer_c16_patched.png", frame, names, layout="patched", patch_size=4
        )
    )


if __name__ == "__main__":
    main()
