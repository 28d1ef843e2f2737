"""Low-level reading of an .xlsx package: bounded parts and the attributes of XML tags.

Parts are read with regular expressions, never through a workbook library, so that checking a
file stays a few hundred microseconds (integrity.py, formula_check.py).
"""

from __future__ import annotations

import html
import re
import zipfile

from nianbao.files import FileProblem, read_zip_member

SMALL_PART = 4 * 1024 * 1024  # custom.xml, workbook.xml, rels: kilobytes in any honest file
SHEET_PART = 64 * 1024 * 1024  # files.check_zip has bounded the whole archive already

NS = r"(?:[\w.-]+:)?"  # writers may prefix SpreadsheetML elements (x:c, x:f)
_ATTR = re.compile(r'([\w:.-]+)\s*=\s*"([^"]*)"')
SHEET = re.compile(rf"<{NS}sheet\b([^>]*)>".encode())


def small_part(zf: zipfile.ZipFile, name: str) -> bytes | None:
    """A small part; None when absent or larger than any honest one."""
    try:
        return read_zip_member(zf, name, SMALL_PART)
    except (KeyError, FileProblem):
        return None


def xml_attrs(raw: bytes) -> dict[str, str]:
    """The attributes of a tag's inside, unescaped."""
    return {k: html.unescape(v) for k, v in _ATTR.findall(raw.decode("utf-8", "replace"))}


def local_name(tag: str) -> str:
    """An ElementTree tag without its {namespace}."""
    return tag.rsplit("}", 1)[-1]
