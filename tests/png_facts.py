"""What a test can check of a PNG without comparing it to stored bytes: its signature, its declared
size (the IHDR chunk) and how much is drawn in it."""

from __future__ import annotations

import io
import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def size(png: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which the PNG format puts first; checks its CRC too."""
    assert png[:8] == SIGNATURE, "not a PNG: the signature is missing"
    length, kind = struct.unpack(">I4s", png[8:16])
    assert kind == b"IHDR" and length == 13, f"the first chunk is {kind!r}, not IHDR"
    data = png[16:16 + length]
    (crc,) = struct.unpack(">I", png[16 + length:20 + length])
    assert zlib.crc32(kind + data) == crc, "IHDR's CRC does not match"
    return struct.unpack(">II", data[:8])


def colours(png: bytes) -> int:
    """How many different colours the image holds (a blank or one-colour image has one or two)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return len(image.convert("RGB").getcolors(maxcolors=1 << 24))
