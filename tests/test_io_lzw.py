"""The unix-compress (.Z) decoder against an independent encoder and against ``gzip -d``."""

from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from geostl.io.lzw import decompress_lzw


def _compress_lzw(data: bytes, maxbits: int = 16, clear_when_full: bool = True) -> bytes:
    """Unix-compress encoder written for the test (block mode, LSB-first codes).

    Codes are emitted in groups of eight; when the width grows or a CLEAR is sent, the group
    is padded with zero bits to ``width`` bytes, as ``compress`` does.
    """
    out = bytearray(b"\x1f\x9d" + bytes([0x80 | maxbits]))
    acc = 0  # bit accumulator
    nacc = 0
    ngroup = 0  # codes written in the current group
    width = 9

    def emit(code: int) -> None:
        nonlocal acc, nacc, ngroup
        acc |= code << nacc
        nacc += width
        ngroup = (ngroup + 1) % 8
        while nacc >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nacc -= 8

    def pad_group() -> None:
        nonlocal ngroup
        while ngroup:
            emit(0)

    dictionary = {bytes([i]): i for i in range(256)}
    free = 257
    w = b""
    for byte in data:
        wc = w + bytes([byte])
        if wc in dictionary:
            w = wc
            continue
        emit(dictionary[w])
        if free < (1 << maxbits):
            dictionary[wc] = free
            free += 1
        elif clear_when_full:
            emit(256)
            pad_group()
            width = 9
            dictionary = {bytes([i]): i for i in range(256)}
            free = 257
            w = bytes([byte])
            continue
        # the decoder builds its entries one code later, so it widens when free > 2**width
        if free > (1 << width) and width < maxbits:
            pad_group()
            width += 1
        w = bytes([byte])
    if w:
        emit(dictionary[w])
    if nacc:
        out.append(acc & 0xFF)
    return bytes(out)


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
