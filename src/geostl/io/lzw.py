"""Decoder for unix ``compress`` (LZW, ``.Z``) data, which the Python standard library lacks.

Format (as written by ``compress``/``ncompress`` and read by ``gzip -d``):

* 3-byte header ``1f 9d`` then a flags byte: bits 0-4 = maximum code width ``maxbits``
  (9..16), bit 7 = block mode (code 256 clears the dictionary).
* Codes are packed least-significant bit first, starting 9 bits wide. Codes 0-255 are literal
  bytes; new dictionary entries start at 257 in block mode (256 otherwise).
* The width grows by one bit when the next free entry would not fit. Codes are written in groups
  of eight, so a group is ``width`` bytes; when the width changes (or after a clear) the rest of
  the current group is padding and is skipped: the bit position, counted from where the current
  width started, is rounded up to a multiple of ``8 * width``.
"""

from __future__ import annotations

_MAGIC = b"\x1f\x9d"


def decompress_lzw(data: bytes) -> bytes:
    """Decompress a complete unix-compress (``.Z``) byte string.

    Raises ``ValueError`` for a wrong magic number, an unsupported code width or a corrupt
    code stream.
    """
    if len(data) < 3 or data[:2] != _MAGIC:
        raise ValueError("not unix-compress (.Z) data: magic bytes 1f 9d missing")
    flags = data[2]
    maxbits = flags & 0x1F
    block_mode = bool(flags & 0x80)
    if flags & 0x60:
        raise ValueError(f"unix-compress header has reserved flag bits set (0x{flags:02x})")
    if not 9 <= maxbits <= 16:
        raise ValueError(f"unix-compress maximum code width {maxbits} is outside 9..16")

    stream = data[3:] + b"\x00\x00\x00"  # padding so a 3-byte read never runs past the end
    total_bits = (len(data) - 3) * 8
    pos = 0  # bit position in the code stream
    mark = 0  # bit position where the current code width started

    bits = 9
    mask = (1 << bits) - 1
    table: list[bytes] = [bytes([i]) for i in range(256)]
    if block_mode:
        table.append(b"")  # code 256 = CLEAR, never a string
    end = len(table) - 1  # last assigned code
    out: list[bytes] = []
    prev: bytes | None = None

    while True:
        if prev is not None and end >= mask and bits < maxbits:
            pos = _align(pos, mark, bits)
            mark = pos
            bits += 1
            mask = (1 << bits) - 1
        if pos + bits > total_bits:
            break
        i = pos >> 3
        code = (int.from_bytes(stream[i : i + 3], "little") >> (pos & 7)) & mask
        pos += bits

        if block_mode and code == 256:
            pos = _align(pos, mark, bits)
            mark = pos
            bits = 9
            mask = (1 << bits) - 1
            del table[257:]
            end = 256
            prev = None
            continue
        if prev is None:
            if code > 255:
                raise ValueError(f"corrupt LZW stream: first code {code} is not a literal byte")
            entry = table[code]
        elif code <= end:
            entry = table[code]
            _add(table, prev + entry[:1], maxbits)
            end = len(table) - 1
        elif code == end + 1 and len(table) < (1 << maxbits):
            entry = prev + prev[:1]
            _add(table, entry, maxbits)
            end = len(table) - 1
        else:
            raise ValueError(
                f"corrupt LZW stream: code {code} at bit {pos - bits} exceeds next free code "
                f"{end + 1}"
            )
        out.append(entry)
        prev = entry
    return b"".join(out)


def _add(table: list[bytes], entry: bytes, maxbits: int) -> None:
    """Append a dictionary entry unless the dictionary is full (``2**maxbits`` codes)."""
    if len(table) < (1 << maxbits):
        table.append(entry)


def _align(pos: int, mark: int, bits: int) -> int:
    """Round ``pos`` up to the next group boundary of ``8 * bits`` bits counted from ``mark``."""
    group = 8 * bits
    rel = pos - mark
    rem = rel % group
    return pos if rem == 0 else pos + group - rem
