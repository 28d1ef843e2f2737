"""files.py: a returned file's format is decided by its bytes, and hostile files are refused."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import random
import re
import shutil
import struct
import subprocess
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msoffcrypto.format.ooxml import OOXMLFile

from nianbao.files import (
    FileProblem,
    Format,
    Opened,
    check_zip,
    classify_ole,
    open_bytes,
    open_returned,
    read_zip_member,
    sniff,
)

CHINESE = re.compile(r"[\u4e00-\u9fff]")


# ---------------------------------------------------------------- builders


def xlsx_bytes() -> bytes:
    """A minimal valid workbook as openpyxl writes it."""
    wb = openpyxl.Workbook()
    wb.active["A1"] = "填报单位"
    wb.active["B2"] = 42
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip holding `members` in order (ODF wants 'mimetype' first and stored)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, content in members.items():
            zf.writestr(name, content, zipfile.ZIP_STORED if name == "mimetype" else method)
    return buf.getvalue()


def encrypted(data: bytes, password: str) -> bytes:
    """An OOXML package encrypted the way Excel does (agile encryption in an OLE container)."""
    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


def ole_bytes(streams: dict[str, bytes]) -> bytes:
    """A minimal OLE compound file (v3, 512-byte sectors) with up to 3 root streams.

    olefile cannot create files, so this writes one by hand: header, one FAT sector, one
    directory sector, then each stream padded to 4096 bytes so no mini stream is needed.
    """
    assert len(streams) <= 3
    end, free, fat_sect, nostream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    fat = [fat_sect, end]
    entries, body = [], b""
    for i, (name, content) in enumerate(streams.items()):
        content = content.ljust(max(4096, -(-len(content) // 512) * 512), b"\x00")
        first, count = len(fat), len(content) // 512
        fat += [*range(first + 1, first + count), end]
        right = i + 2 if i + 1 < len(streams) else nostream
        entries.append(_dir_entry(name, 2, nostream, right, nostream, first, len(content)))
        body += content
    root = _dir_entry("Root Entry", 5, nostream, nostream, 1 if streams else nostream, end, 0)
    directory = b"".join([root, *entries]).ljust(512, b"\x00")
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        bytes(16),
        0x3E,
        3,
        0xFFFE,
        9,
        6,
        bytes(6),
        0,
        1,
        1,
        0,
        4096,
        end,
        0,
        end,
        0,
    ) + struct.pack("<109I", 0, *[free] * 108)
    fat_sector = struct.pack(f"<{128}I", *(fat + [free] * (128 - len(fat))))
    return header + fat_sector + directory + body


def _dir_entry(
    name: str, kind: int, left: int, right: int, child: int, start: int, size: int
) -> bytes:
    """One 128-byte OLE directory entry."""
    raw = name.encode("utf-16-le") + b"\x00\x00"
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        raw,
        len(raw),
        kind,
        1,
        left,
        right,
        child,
        bytes(16),
        0,
        0,
        0,
        start,
        size,
    )


def biff(*records: tuple[int, bytes]) -> bytes:
    """A BIFF8 workbook stream: BOF, the given records, EOF."""
    bof = (0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0, 0, 0, 0))
    return b"".join(struct.pack("<HH", num, len(p)) + p for num, p in (bof, *records, (0x0A, b"")))


def opened(tmp_path: Path, data: bytes, name: str = "返回.xlsx", **kw) -> Opened:
    """open_returned on a file holding `data`, asserting the file is left exactly as it was."""
    path = tmp_path / name
    path.write_bytes(data)
    before = path.stat().st_mtime_ns
    try:
        return open_returned(path, **kw)
    finally:
        assert path.read_bytes() == data
        assert path.stat().st_mtime_ns == before


def problem(tmp_path: Path, data: bytes, name: str = "返回.xls", **kw) -> FileProblem:
    """The FileProblem that open_returned raises for `data`, checked for a usable message."""
    with pytest.raises(FileProblem) as info:
        opened(tmp_path, data, name, **kw)
    exc = info.value
    assert exc.message and CHINESE.search(exc.message) and str(exc) == exc.message
    assert name not in exc.message  # the caller adds the file name
    return exc


# ---------------------------------------------------------------- workbooks that open


def test_valid_xlsx(tmp_path: Path) -> None:
    data = xlsx_bytes()
    got = opened(tmp_path, data)
    assert got == Opened(Format.XLSX, data, hashlib.sha256(data).hexdigest(), len(data))


@pytest.mark.parametrize("name", ["报表.xls", "报表.et", "报表.csv", "报表"])
def test_xlsx_under_any_name_is_xlsx(tmp_path: Path, name: str) -> None:
    assert opened(tmp_path, xlsx_bytes(), name).format is Format.XLSX


def test_default_password_is_opened(tmp_path: Path) -> None:
    plain = xlsx_bytes()
    locked = encrypted(plain, "VelvetSweatshop")
    got = opened(tmp_path, locked)
    assert got.format is Format.XLSX and got.data == plain
    assert got.sha256 == hashlib.sha256(locked).hexdigest() and got.size == len(locked)


def test_real_password_is_encrypted(tmp_path: Path) -> None:
    assert problem(tmp_path, encrypted(xlsx_bytes(), "密码123")).code == "FILE_ENCRYPTED"


def test_docx_is_a_format(tmp_path: Path) -> None:
    data = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    assert opened(tmp_path, data, "报告.xlsx").format is Format.DOCX


def test_ods(tmp_path: Path) -> None:
    data = zip_bytes(
        {
            "mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
            "content.xml": b"<office:document-content/>",
        }
    )
    assert opened(tmp_path, data, "报表.xlsx").format is Format.ODS


@pytest.mark.parametrize(
    "data",
    [
        b'<html xmlns:x="urn:schemas-microsoft-com:office:excel"><table><tr><td>1</td></tr>',
        b"\xef\xbb\xbf \r\n\t<!DOCTYPE html><html><body><table></table></body></html>",
        b"<TABLE border=1><TR><TD>\xcc\xee\xb1\xa8</TD></TR></TABLE>",
        b'<meta http-equiv="Content-Type" content="text/html; charset=gb2312"><table></table>',
        b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN">\n<html/>',
        "\ufeff<html><table><tr><td>数量</td></tr></table></html>".encode("utf-16-le"),
        b"MIME-Version: 1.0\r\nX-Document-Type: Workbook\r\nContent-Type: multipart/related; "
        b'boundary="----=_NextPart_01D"\r\n\r\n------=_NextPart_01D\r\n',
        b"From: <Saved by Windows Internet Explorer 8>\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/related;\r\n\ttype="text/html"\r\n\r\n',
    ],
    ids=[
        "excel-html",
        "bom-doctype",
        "bare-table",
        "meta-first",
        "xhtml",
        "utf16",
        "mht",
        "ie-mht",
    ],
)
def test_html_saved_as_xls(tmp_path: Path, data: bytes) -> None:
    assert opened(tmp_path, data).format is Format.HTML


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?>\r\n<?mso-application progid="Excel.Sheet"?>\r\n'
        b'<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"\r\n'
        b' xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="S"/>',
        b'\xef\xbb\xbf<ss:Workbook xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"/>',
    ],
    ids=["with-pi", "prefixed"],
)
def test_excel_2003_xml(tmp_path: Path, data: bytes) -> None:
    assert opened(tmp_path, data).format is Format.XML2003


@pytest.mark.parametrize(
    "data",
    [
        b"Return-Path: <a@example.cn>\r\nReceived: from mx\r\nFrom: =?GB2312?B?1cU=?= <a@ex.cn>\r\n"
        b'Subject: report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; b="x"\r\n\r\nbody',
        b"From: a@example.cn\nTo: b@example.cn\nSubject: =?UTF-8?B?5bm05oql?=\n"
        b"Date: Mon, 1 Jan 2024 08:00:00 +0800\n\nhello",
    ],
    ids=["relayed", "plain"],
)
def test_eml(tmp_path: Path, data: bytes) -> None:
    assert opened(tmp_path, data, "邮件.xls").format is Format.EML


def test_real_xls_from_biff_stream(tmp_path: Path) -> None:
    data = ole_bytes({"Workbook": biff((0x0042, b"\xb0\x04"))})  # CODEPAGE, no FILEPASS
    assert opened(tmp_path, data).format is Format.XLS


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="needs LibreOffice")
def test_xls_written_by_libreoffice(tmp_path: Path) -> None:
    src = tmp_path / "in.xlsx"
    src.write_bytes(xlsx_bytes())
    profile = (tmp_path / "profile").as_uri()
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            "xls",
            "--outdir",
            str(tmp_path / "out"),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    data = (tmp_path / "out" / "in.xls").read_bytes()
    assert opened(tmp_path, data, "报表.xlsx").format is Format.XLS


# ---------------------------------------------------------------- files refused


def test_empty(tmp_path: Path) -> None:
    assert problem(tmp_path, b"").code == "FILE_EMPTY"


def test_too_large(tmp_path: Path) -> None:
    exc = problem(tmp_path, xlsx_bytes(), max_bytes=1000)
    assert exc.code == "FILE_TOO_LARGE"


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_truncated_download(tmp_path: Path, fraction: float) -> None:
    data = xlsx_bytes()
    assert problem(tmp_path, data[: int(len(data) * fraction)]).code == "FILE_TRUNCATED"


def test_truncated_ole(tmp_path: Path) -> None:
    data = ole_bytes({"Workbook": biff()})
    assert problem(tmp_path, data[:1500]).code == "FILE_TRUNCATED"


def test_corrupt_zip_entry(tmp_path: Path) -> None:
    data = bytearray(xlsx_bytes())
    cd = data.rfind(b"PK\x01\x02")  # the last entry's local header offset is at +42
    (offset,) = struct.unpack_from("<I", data, cd + 42)
    data[offset : offset + 4] = b"XXXX"
    assert problem(tmp_path, bytes(data)).code == "FILE_CORRUPT"


def test_zip_bomb(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", b"<Types/>")
        zf.writestr("xl/workbook.xml", b"<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            chunk = bytes(1024 * 1024)
            for _ in range(300):  # 300 MB of zeros, about 1.4 MB on disk
                fh.write(chunk)
    assert problem(tmp_path, buf.getvalue()).code == "FILE_BOMB"


def test_too_many_entries_is_a_bomb() -> None:
    data = zip_bytes({"xl/workbook.xml": b"", **{f"xl/x{i}.xml": b"" for i in range(2001)}})
    with pytest.raises(FileProblem) as info:
        check_zip(data)
    assert info.value.code == "FILE_BOMB"


@pytest.mark.parametrize("limits", [{"max_total": 1000}, {"max_ratio": 2, "ratio_floor": 100}])
def test_lowered_zip_bounds(limits: dict[str, int]) -> None:
    data = zip_bytes({"xl/workbook.xml": b"<workbook>" + b" " * 5000 + b"</workbook>"})
    check_zip(data)
    with pytest.raises(FileProblem) as info:
        check_zip(data, **limits)
    assert info.value.code == "FILE_BOMB"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "FILE_PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "FILE_IMAGE"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "FILE_IMAGE"),
        (b"GIF89a\x01\x00\x01\x00", "FILE_IMAGE"),
        (b"Rar!\x1a\x07\x01\x00", "FILE_ARCHIVE"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "FILE_ARCHIVE"),
        (zip_bytes({"各单位/一中.xlsx": b"PK...", "说明.txt": b"x"}), "FILE_ARCHIVE"),
        (zip_bytes({"xl/workbook.bin": b"", "[Content_Types].xml": b""}), "FILE_UNSUPPORTED"),
        (zip_bytes({"mimetype": b"application/vnd.oasis.opendocument.text"}), "FILE_UNSUPPORTED"),
        (ole_bytes({"WordDocument": b"\xec\xa5", "1Table": b""}), "FILE_WORD"),
        (
            ole_bytes({"EncryptionInfo": b"\x04\x00\x04\x00", "EncryptedPackage": b""}),
            "FILE_ENCRYPTED",
        ),
        (
            ole_bytes({"Workbook": biff((0x002F, b"\x01\x00\x02\x00\x02\x00" + bytes(50)))}),
            "FILE_ENCRYPTED",
        ),
    ],
    ids=[
        "pdf",
        "png",
        "jpeg",
        "gif",
        "rar",
        "7z",
        "zip",
        "xlsb",
        "odt",
        "doc",
        "ooxml-enc",
        "xls-filepass",
    ],
)
def test_not_a_workbook(tmp_path: Path, data: bytes, code: str) -> None:
    assert problem(tmp_path, data).code == code


@pytest.mark.parametrize(
    "data",
    [
        "单位名称,申请数\n一中,3\n二中,5\n".encode(),
        "单位名称,申请数\r\n一中,3\r\n".encode("gb18030"),
        "\ufeff单位名称\t申请数\r\n".encode("utf-16-le"),
        b'<?xml version="1.0"?><note>not a spreadsheet</note>',
    ],
    ids=["utf8-csv", "gb18030-csv", "utf16-txt", "other-xml"],
)
def test_text(tmp_path: Path, data: bytes) -> None:
    assert problem(tmp_path, data).code == "FILE_TEXT"


@pytest.mark.parametrize(
    "data", [random.Random(7).randbytes(5000), bytes(2048)], ids=["random", "zeros"]
)
def test_unknown(tmp_path: Path, data: bytes) -> None:
    assert problem(tmp_path, data).code == "FILE_UNKNOWN"


def test_unreadable(tmp_path: Path) -> None:
    with pytest.raises(FileProblem) as info:
        open_returned(tmp_path / "不存在.xlsx")
    assert info.value.code == "FILE_UNREADABLE"
    with pytest.raises(FileProblem) as info:
        open_returned(tmp_path)
    assert info.value.code == "FILE_UNREADABLE"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.xlsx")  # reading it would block forever
    with pytest.raises(FileProblem) as info:
        open_returned(tmp_path / "pipe.xlsx")
    assert info.value.code == "FILE_UNREADABLE"


# ---------------------------------------------------------------- pieces


@pytest.mark.parametrize(
    ("streams", "expected"),
    [
        (["Workbook", "\x05SummaryInformation"], Format.XLS),
        (["BOOK"], Format.XLS),
        (["WordDocument", "1Table", "\x05SummaryInformation"], "FILE_WORD"),
        (["EncryptionInfo", "EncryptedPackage", "\x06DataSpaces"], "FILE_ENCRYPTED"),
        (["PowerPoint Document", "Current User"], "FILE_UNSUPPORTED"),
        (["__substg1.0_0037001F", "__properties_version1.0"], "FILE_UNSUPPORTED"),
        (["Contents"], "FILE_UNKNOWN"),
    ],
)
def test_classify_ole(streams: list[str], expected: Format | str) -> None:
    if isinstance(expected, Format):
        assert classify_ole(streams) is expected
        return
    with pytest.raises(FileProblem) as info:
        classify_ole(streams)
    assert info.value.code == expected and CHINESE.search(info.value.message)


def test_read_zip_member_bounds() -> None:
    data = zip_bytes({"xl/sharedStrings.xml": b"<sst>" + b"a" * 5000 + b"</sst>"})
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert len(read_zip_member(zf, "xl/sharedStrings.xml", 10_000)) == 5011
    with pytest.raises(FileProblem) as info:
        read_zip_member(zf, "xl/sharedStrings.xml", 100)
    assert info.value.code == "FILE_TOO_LARGE"
    with pytest.raises(KeyError):
        read_zip_member(zf, "xl/missing.xml", 100)


def test_read_zip_member_declared_size_lies() -> None:
    data = bytearray(zip_bytes({"xl/worksheets/sheet1.xml": b"<row/>" * 50_000}))
    cd = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, 100)  # claims 100 bytes uncompressed
    zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
    with pytest.raises(FileProblem) as info:
        read_zip_member(zf, "xl/worksheets/sheet1.xml", 1000)
    assert info.value.code == "FILE_CORRUPT"  # stopped at 100 bytes, whose CRC cannot match


def test_read_zip_member_stops_at_limit() -> None:
    class Liar:  # a reader that yields more than the entry declares
        def getinfo(self, name: str) -> zipfile.ZipInfo:
            info = zipfile.ZipInfo(name)
            info.file_size = 10
            return info

        def open(self, info: zipfile.ZipInfo) -> io.BytesIO:
            return io.BytesIO(b"x" * 10_000_000)

    with pytest.raises(FileProblem) as info:
        read_zip_member(Liar(), "a", 1000)  # type: ignore[arg-type]
    assert info.value.code == "FILE_TOO_LARGE"


def test_read_zip_member_garbled_deflate() -> None:
    data = bytearray(zip_bytes({"xl/worksheets/sheet1.xml": b"<row/>" * 50_000}))
    data[60:80] = bytes(range(20))  # inside the compressed data of the only entry
    zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
    with pytest.raises(FileProblem) as info:
        read_zip_member(zf, "xl/worksheets/sheet1.xml", 1_000_000)
    assert info.value.code == "FILE_CORRUPT"


def test_read_zip_member_zip_password() -> None:
    data = bytearray(zip_bytes({"xl/workbook.xml": b"<workbook/>"}))
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 8] |= 0x1  # the "encrypted" flag of the entry
    zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
    with pytest.raises(FileProblem) as info:
        read_zip_member(zf, "xl/workbook.xml", 1000)
    assert info.value.code == "FILE_ENCRYPTED"


def test_backslash_part_names_are_xlsx() -> None:
    data = zip_bytes({"[Content_Types].xml": b"<Types/>", "xl\\workbook.xml": b"<workbook/>"})
    assert sniff(data) is Format.XLSX


def test_open_bytes_matches_open_returned(tmp_path: Path) -> None:
    data = encrypted(XLSX, "VelvetSweatshop")
    assert open_bytes(data) == opened(tmp_path, data)
    with pytest.raises(FileProblem) as info:
        open_bytes(b"")
    assert info.value.code == "FILE_EMPTY"


def test_problem_pickles() -> None:
    exc = pickle.loads(pickle.dumps(FileProblem("FILE_EMPTY", "文件为空")))
    assert (exc.code, exc.message, str(exc)) == ("FILE_EMPTY", "文件为空", "文件为空")


def test_fast_for_ordinary_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(xlsx_bytes())
    open_returned(path)
    runs = []
    for _ in range(50):
        start = time.perf_counter()
        open_returned(path)
        runs.append(time.perf_counter() - start)
    assert sorted(runs)[len(runs) // 2] < 0.001


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from(
        [
            b"",
            b"PK\x03\x04",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
            b"<",
            b"From: a\n",
            b"\xef\xbb\xbf<?xml",
        ]
    ),
    rest=st.binary(max_size=3000),
)
def test_sniff_only_raises_file_problem(prefix: bytes, rest: bytes) -> None:
    try:
        assert isinstance(sniff(prefix + rest), Format)
    except FileProblem as exc:
        assert CHINESE.search(exc.message)


@settings(max_examples=200, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8))
def test_damaged_xlsx_only_raises_file_problem(edits: list[tuple[int, int]]) -> None:
    data = bytearray(XLSX)
    for pos, value in edits:
        data[pos % len(data)] = value
    try:
        check_zip(bytes(data))
        sniff(bytes(data))
        zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
        for name in zf.namelist():
            read_zip_member(zf, name, 10_000_000)
    except FileProblem as exc:
        assert CHINESE.search(exc.message)


XLSX = xlsx_bytes()


def test_an_eml_whose_header_block_is_longer_than_the_sniffed_head_is_mail() -> None:
    received = "".join(
        f"Received: from host{i}.example.com by mx.example.com id {i:020d}\r\n" for i in range(120)
    )
    data = (received + "From: a@example.cn\r\nSubject: 年报\r\n\r\nbody").encode()
    assert sniff(data) == Format.EML
