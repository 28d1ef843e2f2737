"""Open one returned file safely and decide its format by content, never by its name."""

from __future__ import annotations

import codecs
import enum
import hashlib
import io
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import msoffcrypto
import olefile

MB = 1024 * 1024
DEFAULT_PASSWORD = "VelvetSweatshop"  # Excel's built-in password for "read-only" workbooks
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
BIFF_FILEPASS, BIFF_EOF = 0x002F, 0x000A
MAX_ENTRIES, MAX_TOTAL = 2000, 200 * MB  # a real report has a few dozen parts and a few MB
MAX_RATIO, RATIO_FLOOR = 200, 1 * MB  # sheet XML compresses ~10-100x; zeros compress ~1000x

_SEND = "请报送填写好的 Excel 报表原文件（.xlsx）。"
_RESAVE = "请在 Excel 或 WPS 中打开后另存为 .xlsx 再报送。"
_MESSAGES = {  # "CODE/variant" keys share the code and differ in advice
    "FILE_EMPTY": "文件为空（0 字节），可能是附件未下载完整，请重新下载或让填报单位重新发送。",
    "FILE_BOMB": "文件解压后异常巨大，疑似恶意文件，已拒绝读取。如确为报表，" + _RESAVE,
    "FILE_TRUNCATED": "文件不完整或已损坏（可能下载中断），请重新下载或让填报单位重新发送。",
    "FILE_CORRUPT": "文件已损坏，内部结构不完整，无法读取。请重新下载；如仍不行，" + _RESAVE,
    "FILE_ENCRYPTED": "文件设有打开密码（已加密），无法读取。请取消密码后重新保存再报送。",
    "FILE_WORD": "这是 Word 文档（.doc），不是 Excel 工作簿。" + _SEND,
    "FILE_PDF": "这是 PDF 文件，不是 Excel 工作簿，无法读取其中的数据。" + _SEND,
    "FILE_IMAGE": "这是图片（如截图或扫描件），不是 Excel 工作簿，无法读取数据。" + _SEND,
    "FILE_ARCHIVE": "这是压缩包，不是 Excel 工作簿。请先解压，再单独报送其中的 Excel 报表文件。",
    "FILE_TEXT": "这是纯文本文件（如 CSV、TXT），不是 Excel 工作簿。" + _RESAVE,
    "FILE_UNKNOWN": "无法识别的文件格式，不是可读取的 Excel 工作簿。" + _RESAVE,
    "FILE_UNREADABLE": "文件不存在或无法打开（可能已被移动、删除，或没有读取权限），请检查后重试。",
    "FILE_UNSUPPORTED/xlsb": "这是 Excel 二进制工作簿（.xlsb），暂不支持读取。" + _RESAVE,
    "FILE_UNSUPPORTED/ppt": "这是 PowerPoint 演示文稿，不是 Excel 工作簿。" + _SEND,
    "FILE_UNSUPPORTED/odf": "这是 OpenDocument 文字或演示文档，不是电子表格。" + _SEND,
    "FILE_UNSUPPORTED/msg": "这是 Outlook 邮件文件（.msg），不是 Excel 工作簿。"
    "请打开邮件，保存其中的 Excel 附件后再报送。",
}
_MAGIC = {  # PDF readers accept junk before %PDF, so it is searched for in the first KB
    "FILE_IMAGE": (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*"),
    "FILE_ARCHIVE": (b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b", b"\xfd7zXZ\x00"),
}
_HTML_ROOTS = {"html", "head", "body", "table", "meta", "title", "style"}
_MAIL_HEADERS = frozenset(
    "from to cc subject date received return-path message-id mime-version content-type"
    " delivered-to reply-to x-mailer".split()
)
_TRANSPORT_HEADERS = frozenset("received return-path message-id delivered-to to".split())
_XML2003 = re.compile(
    r"urn:schemas-microsoft-com:office:spreadsheet"
    r"|<\?mso-application\s+progid=[\"']excel\.sheet"
)


class FileProblem(Exception):
    """A returned file that cannot be read as a workbook, with one clear Chinese message."""

    def __init__(self, code: str, message: str):
        super().__init__(code, message)  # both in args, so the exception pickles across processes
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


class Format(str, enum.Enum):
    """What a returned file really is, decided from its bytes."""

    XLSX = "xlsx"
    XLS = "xls"
    ODS = "ods"
    HTML = "html"
    XML2003 = "xml2003"
    EML = "eml"
    DOCX = "docx"


@dataclass(frozen=True)
class Opened:
    """A returned file read once: its format, the bytes to parse, and the original's digest."""

    format: Format
    data: bytes
    sha256: str
    size: int
    # the zip directory of `data` as checked here, so that the reader need not parse it again
    zip_infos: tuple[zipfile.ZipInfo, ...] | None = field(default=None, repr=False, compare=False)


def _problem(key: str) -> FileProblem:
    """The FileProblem with the standard message for `key` ("CODE" or "CODE/variant")."""
    return FileProblem(key.split("/")[0], _MESSAGES[key])


def _too_large(size: int | None, limit: int) -> FileProblem:
    """FILE_TOO_LARGE naming the size (when known) and the bound."""
    found = f"（{size / MB:.1f} MB）" if size is not None else ""
    return FileProblem(
        "FILE_TOO_LARGE",
        f"文件或其中的内容过大{found}，"
        f"超过读取上限 {limit / MB:.1f} MB，不像是一份报表。请确认是否发错了文件；"
        "如确为报表，请删除无关的图片和工作表后重新保存再报送。",
    )


def open_returned(path: Path, *, max_bytes: int = 50 * MB) -> Opened:
    """Read a returned file once (never writing it), check it and decide its format."""
    return open_bytes(_read_bounded(Path(path), max_bytes))


def open_bytes(raw: bytes) -> Opened:
    """Check bytes already read (a file, an e-mail attachment) and decide their format."""
    if not raw:
        raise _problem("FILE_EMPTY")
    digest = hashlib.sha256(raw).hexdigest()
    try:
        data, (fmt, infos) = raw, _checked_format(raw)
    except FileProblem as exc:
        if exc.code != "FILE_ENCRYPTED" or not raw.startswith(OLE_MAGIC):
            raise
        data = _decrypt_default(raw)  # many "encrypted" files only carry Excel's default password
        fmt, infos = _checked_format(data)
    return Opened(fmt, data, digest, len(raw), infos)


def _read_bounded(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing specials, missing files and anything above `max_bytes`."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            raise _problem("FILE_UNREADABLE")
        if info.st_size > max_bytes:
            raise _too_large(info.st_size, max_bytes)
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)  # the file may grow between stat and read
    except OSError as exc:
        raise _problem("FILE_UNREADABLE") from exc
    if len(raw) > max_bytes:
        raise _too_large(None, max_bytes)
    if not raw:
        raise _problem("FILE_EMPTY")
    return raw


def _checked_format(data: bytes) -> tuple[Format, tuple[zipfile.ZipInfo, ...] | None]:
    """Sniff, bounding zip content first so that no later parser inflates a bomb.

    A zip's directory is parsed once, for the bounds, the sniffing and (returned) the reader.
    """
    if not data.startswith(ZIP_MAGIC):
        return sniff(data), None
    zf = _open_zip(data)  # what check_zip and sniff would each open first
    _check_zip_infos(data, zf.infolist())
    return _zip_format(zf), tuple(zf.infolist())


def _decrypt_default(raw: bytes) -> bytes:
    """Decrypt with Excel's default password; FILE_ENCRYPTED when a real password is needed."""
    try:
        office = msoffcrypto.OfficeFile(io.BytesIO(raw))
        if office.format == "ooxml":
            office.load_key(password=DEFAULT_PASSWORD, verify_password=True)
        else:  # Xls97File.load_key always verifies and has no verify_password argument
            office.load_key(password=DEFAULT_PASSWORD)
        out = io.BytesIO()
        office.decrypt(out)
    except Exception as exc:  # msoffcrypto raises many types; all mean "cannot open without a key"
        raise _problem("FILE_ENCRYPTED") from exc
    return out.getvalue()


def sniff(data: bytes) -> Format:
    """Decide the format from the first bytes; raise FileProblem for anything not a document."""
    if not data:
        raise _problem("FILE_EMPTY")
    if data.startswith(ZIP_MAGIC):
        return _zip_format(_open_zip(data))
    if data.startswith(OLE_MAGIC):
        return _ole_format(data)
    if data.find(b"%PDF-", 0, 1024) >= 0:
        raise _problem("FILE_PDF")
    for code, magics in _MAGIC.items():
        if data.startswith(magics):
            raise _problem(code)
    head = _text_head(data)
    fmt = _markup_format(head) or _mail_format(head)
    if fmt is not None:
        return fmt
    raise _problem("FILE_TEXT" if _looks_like_text(data) else "FILE_UNKNOWN")


def _open_zip(data: bytes) -> zipfile.ZipFile:
    """Read the zip directory only; a missing or broken directory means a cut-off download."""
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # zipfile raises BadZipFile, ValueError, struct.error, ... on junk
        raise _problem("FILE_TRUNCATED") from exc


def _zip_format(zf: zipfile.ZipFile) -> Format:
    """Tell OOXML, ODF and plain archives apart from the member names."""
    # OPC part names are case-insensitive; some broken writers use backslashes
    names = {n.lower().replace("\\", "/") for n in zf.namelist()}
    if not names:
        raise _problem("FILE_CORRUPT")
    ooxml = "[content_types].xml" in names
    if "xl/workbook.xml" in names or (ooxml and any(n.startswith("xl/worksheets/") for n in names)):
        return Format.XLSX
    if "xl/workbook.bin" in names:
        raise _problem("FILE_UNSUPPORTED/xlsb")
    if "word/document.xml" in names:
        return Format.DOCX
    if ooxml and any(n.startswith("ppt/") for n in names):
        raise _problem("FILE_UNSUPPORTED/ppt")
    if "mimetype" in names:
        return _odf_format(zf)
    raise _problem("FILE_ARCHIVE")


def _odf_format(zf: zipfile.ZipFile) -> Format:
    """ODF declares its kind in a tiny 'mimetype' member."""
    name = next(n for n in zf.namelist() if n.lower() == "mimetype")
    mime = read_zip_member(zf, name, 200).decode("ascii", "replace").strip()
    if mime.startswith("application/vnd.oasis.opendocument.spreadsheet"):
        return Format.ODS
    if mime.startswith("application/vnd.oasis.opendocument."):
        raise _problem("FILE_UNSUPPORTED/odf")
    raise _problem("FILE_ARCHIVE")


def check_zip(
    data: bytes,
    *,
    max_entries: int = MAX_ENTRIES,
    max_total: int = MAX_TOTAL,
    max_ratio: int = MAX_RATIO,
    ratio_floor: int = RATIO_FLOOR,
) -> None:
    """Refuse zip bombs and broken zips from the directory alone, without inflating anything."""
    _check_zip_infos(
        data, _open_zip(data).infolist(), max_entries, max_total, max_ratio, ratio_floor
    )


def _check_zip_infos(
    data: bytes,
    infos: list[zipfile.ZipInfo],
    max_entries: int = MAX_ENTRIES,
    max_total: int = MAX_TOTAL,
    max_ratio: int = MAX_RATIO,
    ratio_floor: int = RATIO_FLOOR,
) -> None:
    """check_zip over a directory already read."""
    if len(infos) > max_entries or sum(i.file_size for i in infos) > max_total:
        raise _problem("FILE_BOMB")
    for info in infos:
        if info.file_size > ratio_floor and info.file_size > max_ratio * max(info.compress_size, 1):
            raise _problem("FILE_BOMB")
        _check_local_header(data, info)


def _check_local_header(data: bytes, info: zipfile.ZipInfo) -> None:
    """A directory entry must point at a local header whose data ends inside the file."""
    start = info.header_offset
    if start < 0 or data[start : start + 4] != b"PK\x03\x04" or start + 30 > len(data):
        raise _problem("FILE_CORRUPT")
    name_len, extra_len = struct.unpack_from("<HH", data, start + 26)
    if start + 30 + name_len + extra_len + info.compress_size > len(data):
        raise _problem("FILE_CORRUPT")


def read_zip_member(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """Read one member, stopping after `limit` bytes whatever it declares; KeyError if absent."""
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise _too_large(info.file_size, limit)
    if info.flag_bits & 0x1:  # a zip-level password: no workbook writer does this
        raise _problem("FILE_ENCRYPTED")
    chunks, total = [], 0
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(min(64 * 1024, limit + 1 - total)):
                chunks.append(chunk)
                total += len(chunk)
                if total > limit:  # never trust the declared size
                    raise _too_large(None, limit)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise _problem("FILE_CORRUPT") from exc  # bad CRC, cut or garbled deflate, odd method
    return b"".join(chunks)


def _ole_format(data: bytes) -> Format:
    """List an OLE container's root streams and classify it; detect encrypted BIFF."""
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            names = [entry[0] for entry in ole.listdir(streams=True, storages=True)]
            fmt = classify_ole(names)
            book = "Workbook" if ole.exists("Workbook") else "Book"
            stream = ole.openstream(book).read()
            cut = len(stream) < ole.get_size(book)  # olefile only notes a missing tail, so check
    except FileProblem:
        raise
    except Exception as exc:  # olefile raises OSError, struct.error, IndexError... on junk
        # OLE files are whole 512-byte sectors: anything else was cut off
        raise _problem("FILE_TRUNCATED" if len(data) % 512 else "FILE_CORRUPT") from exc
    if cut:
        raise _problem("FILE_TRUNCATED")
    if _biff_encrypted(stream):
        raise _problem("FILE_ENCRYPTED")
    return fmt


def classify_ole(streams: Iterable[str]) -> Format:
    """What an OLE container holds, from its root stream names; raise for non-workbooks."""
    names = {s.lower() for s in streams}
    if names & {"encryptioninfo", "encryptedpackage"}:
        raise _problem("FILE_ENCRYPTED")
    if names & {"workbook", "book"}:  # BIFF8 and BIFF5; WPS .et files are BIFF8 too
        return Format.XLS
    if "worddocument" in names:
        raise _problem("FILE_WORD")
    if "powerpoint document" in names:
        raise _problem("FILE_UNSUPPORTED/ppt")
    if any(n.startswith(("__substg1.0_", "__properties_version1.0")) for n in names):
        raise _problem("FILE_UNSUPPORTED/msg")
    raise _problem("FILE_UNKNOWN")


def _biff_encrypted(stream: bytes) -> bool:
    """True if the workbook globals carry a FILEPASS record (an encrypted .xls)."""
    pos = 0
    for _ in range(100):  # MS-XLS puts FILEPASS within the first 3 records; junk may have no EOF
        if pos + 4 > len(stream):
            return False
        rec, size = struct.unpack_from("<HH", stream, pos)
        if rec == BIFF_FILEPASS:
            return True
        if rec == BIFF_EOF:  # FILEPASS can only sit in the globals substream
            return False
        pos += 4 + size
    return False


def _text_head(data: bytes, size: int = 4096) -> str:
    """The first bytes as lower-case text, honouring BOMs; latin-1 is enough to match ASCII."""
    head = data[:size]
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, "replace").lower()
    if len(head) >= 4 and head[1] == 0 and head[3] == 0 and head[0]:  # BOM-less UTF-16 markup
        return head.decode("utf-16-le", "replace").lower()
    return head.decode("latin-1").lower()


def _markup_format(head: str) -> Format | None:
    """HTML pages and Excel 2003 XML, by the first element of a document starting with '<'."""
    text = head.lstrip()
    if not text.startswith("<"):
        return None
    root = re.search(r"<([a-z][\w.:-]*)", text)
    tag = root.group(1).rsplit(":", 1)[-1] if root else ""
    if tag == "workbook" and _XML2003.search(text):
        return Format.XML2003
    if tag in _HTML_ROOTS or text.startswith("<!doctype html"):
        return Format.HTML
    return None


def _mail_format(head: str) -> Format | None:
    """EML messages and MHT web archives (Excel's single-file web page), by their header block."""
    headers: dict[str, str] = {}
    text = head.replace("\r\n", "\n")
    lines = text.split("\n")
    if "\n\n" not in text:
        lines = lines[:-1]  # the header block goes on past the sniffed head: its last line is cut
    for i, line in enumerate(lines):
        if not line.strip():
            break
        if (line[0] in " \t" and headers) or (i == 0 and line.startswith("from ")):
            continue  # a folded header line, or an mbox separator
        match = re.match(r"([a-z0-9-]+):(.*)", line)
        if not match:
            return None
        headers.setdefault(match.group(1), match.group(2).strip())
    if not headers:
        return None
    related = "multipart/related" in headers.get("content-type", "")
    if (
        "x-document-type" in headers
        or "saved by" in headers.get("from", "")
        or (related and not headers.keys() & _TRANSPORT_HEADERS)
    ):
        return Format.HTML
    known = headers.keys() & _MAIL_HEADERS
    cut_long_block = "\n\n" not in text and len(lines) >= 5  # e.g. 4 KB of Received: lines
    return Format.EML if len(known) >= 2 or (known and cut_long_block) else None


def _looks_like_text(data: bytes, size: int = 8192) -> bool:
    """Decodes as UTF-16 (with BOM), UTF-8 or GB18030 and is almost all printable."""
    sample = data[:size]
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codecs_to_try = ["utf-16"]
    elif b"\x00" in sample:
        return False
    else:
        codecs_to_try = ["utf-8-sig", "gb18030"]
    for codec in codecs_to_try:
        try:  # incremental: the sample may end inside a multi-byte character
            text = codecs.getincrementaldecoder(codec)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        printable = sum(ch.isprintable() or ch in "\t\r\n\f" for ch in text)
        return bool(text) and printable >= 0.95 * len(text)
    return False
