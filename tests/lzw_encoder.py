"""An independent unix-compress (``.Z``) encoder for the tests (geostl ships only a decoder)."""

from __future__ import annotations

__all__ = ["compress_lzw"]


def compress_lzw(data: bytes, maxbits: int = 16, clear_when_full: bool = True) -> bytes:
    """Unix-compress encoder written for the tests (block mode, LSB-first codes).

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
