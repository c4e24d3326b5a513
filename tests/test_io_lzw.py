"""The unix-compress (.Z) decoder against an independent encoder and against ``gzip -d``."""

from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from geostl.io.lzw import decompress_lzw
from lzw_encoder import compress_lzw as _compress_lzw


def _sample_text(n_lines: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    lines = []
    for i in range(n_lines):
        values = " ".join(f"{rng.randint(0, 400):5d}" for _ in range(16))
        lines.append(f"{i:6d} {values}")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(("n_lines", "maxbits"), [(1, 16), (40, 12), (3000, 16), (3000, 10)])
def test_roundtrip_against_independent_encoder(n_lines: int, maxbits: int) -> None:
    data = _sample_text(n_lines)
    packed = _compress_lzw(data, maxbits=maxbits)
    assert decompress_lzw(packed) == data


def test_kwkwk_case_and_empty_input() -> None:
    data = b"abababababababab" * 50 + b"aaaaaaaaaaaaaaaaaaaaaaaaa"
    assert decompress_lzw(_compress_lzw(data)) == data
    assert decompress_lzw(b"\x1f\x9d\x90") == b""


def test_hand_built_stream() -> None:
    # "ABAB" -> codes 65 ('A'), 66 ('B'), 257 ('AB'), 9 bits each, LSB first.
    acc = 65 | (66 << 9) | (257 << 18)
    stream = b"\x1f\x9d\x90" + acc.to_bytes(4, "little")
    assert decompress_lzw(stream) == b"ABAB"


@pytest.mark.skipif(shutil.which("gzip") is None, reason="gzip not installed")
def test_encoder_output_is_what_gzip_decodes() -> None:
    """Validates the test encoder itself with gzip's own LZW decoder (gzip -d reads .Z)."""
    data = _sample_text(3000, seed=3)
    for maxbits in (16, 10):
        packed = _compress_lzw(data, maxbits=maxbits)
        res = subprocess.run(["gzip", "-dc"], input=packed, capture_output=True, check=True)
        assert res.stdout == data


def test_bad_streams_raise() -> None:
    with pytest.raises(ValueError, match="magic bytes 1f 9d"):
        decompress_lzw(b"\x1f\x8b\x08")
    with pytest.raises(ValueError, match="outside 9..16"):
        decompress_lzw(b"\x1f\x9d\x88")
    bad = b"\x1f\x9d\x90" + (65 | (300 << 9)).to_bytes(3, "little")
    with pytest.raises(ValueError, match="exceeds next free code"):
        decompress_lzw(bad)
