"""The DOCTYPE guard: no XML part of a workbook may declare a DTD (an entity bomb does).

reject_doctype asks declares_doctype_raw for every part of every file read: zipfile's
per-member reader costs more than the inflating itself. Only plain stored or deflated members
are answered here; for any other the answer is None and zipfile is asked.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence

from nianbao.files import FileProblem

PROLOG_LIMIT = 1024 * 1024
ELEMENT = re.compile(rb"<(?![?!])")
# Parts byte-identical from file to file (theme, styles, rels of one template) are answered once.
SEEN_MAX_BYTES, SEEN_MAX_ENTRIES = 16 * 1024, 512
_seen: dict[tuple[int, int, bytes], bool] = {}
DOCTYPE_MARKERS = tuple(
    s.encode(enc) for s in ("<!DOCTYPE", "<!ENTITY") for enc in ("ascii", "utf-16-le", "utf-16-be")
)


def declares_doctype_raw(data: bytes, info: zipfile.ZipInfo) -> bool | None:
    """declares_doctype for a plain stored or deflated member; None for any other.

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
    """The decision of declares_doctype over `read(n, bytes so far)` → the next n bytes.

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


def reject_doctype(data: bytes, infos: Sequence[zipfile.ZipInfo] | None = None) -> None:
    """Refuse XML parts declaring a DTD: OOXML and ODF never do; an entity bomb does.

    `infos`: the zip directory files.open_bytes already read from `data`, if at hand.
    """
    zf: zipfile.ZipFile | None = None
    if infos is None:
        zf = zipfile.ZipFile(io.BytesIO(data))  # files.open_* has bounded this zip
        infos = zf.infolist()
    for info in infos:
        if info.is_dir():
            continue
        declares = declares_doctype_raw(data, info)  # None: an unusual member
        if declares is None:
            zf = zf or zipfile.ZipFile(io.BytesIO(data))
            declares = declares_doctype(zf, info)
        if declares:
            raise FileProblem(
                "FILE_BOMB",
                "文件内部含有 XML 实体定义（DOCTYPE/ENTITY），正常的 Excel 文件不会有，"
                "疑似恶意文件，已拒绝读取。请在 Excel 或 WPS 中打开后另存为 .xlsx 再报送。",
            )


def declares_doctype(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """True if the part's start holds a DTD, or a prolog too long to be honest (via zipfile)."""
    head, element = b"", None
    try:
        with zf.open(info) as fh:
            while element is None and len(head) < PROLOG_LIMIT:
                chunk = fh.read(max(4096, len(head)))  # the prolog is short: inflate little
                if not chunk:
                    return any(d in head for d in DOCTYPE_MARKERS)
                head += chunk
                element = ELEMENT.search(head.replace(b"\x00", b""))  # UTF-16 parts too
    except Exception:  # a broken member is calamine's to report as a damaged file
        return False
    return element is None or any(d in head for d in DOCTYPE_MARKERS)
