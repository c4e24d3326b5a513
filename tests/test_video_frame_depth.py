"""Video frames deeper than 8 bits are refused, naming the file, instead of being clipped to
255 by Pillow's conversion to RGB; 8-bit palette frames still read back exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from geostl.io._video import decode_image
from geostl.io.kth import KTH_ACTIONS, open_kth


def _kth_clip(root: Path) -> Path:
    for action in KTH_ACTIONS:
        (root / action).mkdir(parents=True, exist_ok=True)
    folder = root / "boxing" / "person01_boxing_d1_uncomp"
    folder.mkdir()
    return folder


def test_a_16_bit_frame_is_an_error_naming_the_file(tmp_path: Path) -> None:
    frame = _kth_clip(tmp_path) / "image_0001.png"
    values = np.array([[0, 100], [300, 1000]], dtype=np.uint16)  # 300 and 1000 > 255
    Image.fromarray(values).save(frame)
    with pytest.raises(ValueError, match=r"image_0001\.png.*mode 'I;16'.*8 bits"):
        decode_image(frame)
    with pytest.raises(ValueError, match=r"image_0001\.png.*mode 'I;16'"):
        open_kth(tmp_path, size=None)  # opening decodes the first frame


def test_an_8_bit_palette_frame_reads_back_exactly(tmp_path: Path) -> None:
    grey = np.array([[0, 17], [200, 255]], dtype=np.uint8)
    frame = tmp_path / "image_0001.png"
    image = Image.fromarray(np.array([[0, 1], [2, 3]], dtype=np.uint8), mode="P")
    image.putpalette([int(v) for v in grey.ravel() for _ in range(3)])  # index k -> grey[k]
    image.save(frame)
    np.testing.assert_array_equal(decode_image(frame)[:, :, 0], grey)
