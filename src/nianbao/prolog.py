"""Whether an XML part of a workbook declares a DTD, inflated straight from the file's bytes.

reader.reject_doctype asks this for every part of every file read: zipfile's per-member reader
costs more than the inflating itself. Only plain stored or deflated members are answered here;
for any other the answer is None and the reader asks zipfile.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Callable

PROLOG_LIMIT = 1024 * 1024
ELEMENT = re.compile(rb"<(?![?!])")
# Parts byte-identical from file to file (theme, styles, rels of one template) are answered once.
SEEN_MAX_BYTES, SEEN_MAX_ENTRIES = 16 * 1024, 512
_seen: dict[tuple[int, int, bytes], bool] = {}
DOCTYPE_MARKERS = tuple(
    s.encode(enc) for s in ("<!DOCTYPE", "<!ENTITY") for enc in ("ascii", "utf-16-le", "utf-16-be")
)


def declares_doctype_raw(data: bytes, info: zipfile.ZipInfo) -> bool | None:
    """reader._declares_doctype for a plain stored or deflated member; None for any other.

    The prolog grows in the same steps as there (4 KiB, then doubling), so that the answer
    is the same; encrypted members, other compressions and odd local headers give None.
    """
    start = info.header_offset
    header = data[start : start + 30]
    if (
        info.flag_bits & 0x1
        or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
        or len(header) < 30
        or header[:4] != b"PK\x03\x04"
    ):
        return None
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    begin = start + 30 + name_len + extra_len
    if data[start + 30 : start + 30 + name_len] != info.orig_filename.encode(
        "utf-8" if info.flag_bits & 0x800 else "cp437"
    ):
        return None  # zipfile refuses such a member: leave it to the general path
    raw = data[begin : begin + info.compress_size]
    if len(raw) < info.compress_size:
        return None  # truncated: zipfile's own errors decide
    if len(raw) > SEEN_MAX_BYTES:
        return _declares(raw, info)
    key = (info.compress_type, info.CRC, raw)  # all that the answer depends on
    if key not in _seen:
        if len(_seen) >= SEEN_MAX_ENTRIES:
            _seen.clear()
        _seen[key] = _declares(raw, info)
    return _seen[key]


def _declares(raw: bytes, info: zipfile.ZipInfo) -> bool:
    """The answer for a member's stored or deflated bytes `raw`."""
    if info.compress_type == zipfile.ZIP_STORED:
        return _prolog_declares(
            lambda n, got: raw[got : got + n], lambda got: got >= len(raw), info
        )
    inflater = zlib.decompressobj(-15)
    pending = [raw]

    def more(n: int, got: int) -> bytes:
        out = inflater.decompress(pending[0], n)
        pending[0] = inflater.unconsumed_tail
        return out

    try:
        return _prolog_declares(more, lambda got: inflater.eof or not pending[0], info)
    except zlib.error:
        return False  # a broken member is calamine's to report as a damaged file


def _prolog_declares(
    read: Callable[[int, int], bytes], exhausted: Callable[[int], bool], info: zipfile.ZipInfo
) -> bool:
    """The decision of _declares_doctype over `read(n, bytes so far)` → the next n bytes.

    As there, a member read to its end must match its CRC (zipfile raises otherwise: False).
    """
    head, element = b"", None
    while element is None and len(head) < PROLOG_LIMIT:
        want = max(4096, len(head))
        chunk = b""
        while len(chunk) < want:  # a full chunk, as ZipExtFile.read(n) gives
            part = read(want - len(chunk), len(head) + len(chunk))
            if not part:
                break
            chunk += part
        head += chunk
        if exhausted(len(head)) and zlib.crc32(head) != info.CRC:
            return False
        if not chunk:
            return _has_doctype(head)
        element = ELEMENT.search(head.replace(b"\x00", b""))
    return element is None or _has_doctype(head)


def _has_doctype(head: bytes) -> bool:
    return b"!" in head and any(d in head for d in DOCTYPE_MARKERS)  # each marker has a "!" byte
