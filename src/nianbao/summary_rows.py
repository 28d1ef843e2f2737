"""A worksheet for thousands of rows of plain numbers: each row rendered once as XML.

XlsxWriter stores every cell as an object and formats it again when the workbook is closed:
for the 明细 sheet of a province (10,000 units × 200 figures) that is most of the time and
memory of the whole summary. Here a row's numbers become their <c> elements at once, in the
very form XlsxWriter writes for an unformatted number; only the row's last number is an
ordinary cell, so that the sheet's dimensions and row spans stay XlsxWriter's own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

_ROW = "\x00"  # stands for the row number in a template (never in XML text)


class NumberRowsSheet(Worksheet):
    """Worksheet with write_numbers(): a run of unformatted numbers in one row, cheaply."""

    def __init__(self) -> None:
        super().__init__()
        self._rendered: dict[int, tuple[int, str]] = {}  # row → (column of last number, XML)
        self._templates: dict[tuple[int, int], str] = {}

    def write_numbers(self, row: int, first_col: int, numbers: Sequence[float]) -> None:
        """Like write_number for each number from first_col on (no format).

        Nothing else may be written into those cells of the row afterwards.
        """
        if not numbers:
            return
        last = first_col + len(numbers) - 1
        # A finite sum means every number is finite (inf and nan propagate); XlsxWriter's own
        # rules for the others, and when rows are flushed as they come (constant_memory).
        if self.constant_memory or not math.isfinite(sum(numbers)):
            for col, number in enumerate(numbers, start=first_col):
                self.write_number(row, col, number)
            return
        if self.write_number(row, last, numbers[-1]) == -1:  # out of range: nothing stored
            return
        template = self._template(first_col, len(numbers) - 1)
        self._rendered[row] = (last, (template % tuple(numbers[:-1])).replace(_ROW, str(row + 1)))

    def _template(self, first_col: int, count: int) -> str:
        """The <c> elements of `count` numbers from first_col, the row number left as _ROW.

        "%.16G" % x formats exactly as XlsxWriter's f"{x:.16G}", in one call for the row.
        """
        key = (first_col, count)
        if key not in self._templates:
            self._templates[key] = "".join(
                f'<c r="{xl_col_to_name(col)}{_ROW}"><v>%.16G</v></c>'
                for col in range(first_col, first_col + count)
            )
        return self._templates[key]

    def _calculate_spans(self) -> None:
        """XlsxWriter's spans, visiting each row's stored cells rather than every column."""
        if self.comments or self.dim_rowmin is None:
            super()._calculate_spans()
            return
        spans: dict[int, str] = {}
        low: int | None = None
        high: int | None = None
        for row_num in range(self.dim_rowmin, self.dim_rowmax + 1):
            cols = self.table.get(row_num)
            if cols:
                low = min(cols) if low is None else min(low, min(cols))
                high = max(cols) if high is None else max(high, max(cols))
            if (row_num + 1) % 16 == 0 or row_num == self.dim_rowmax:
                if low is not None and high is not None:  # always set together
                    spans[row_num // 16] = f"{low + 1}:{high + 1}"
                    low = high = None
        self.row_spans = spans

    def _write_rows(self) -> None:
        """XlsxWriter's rows, visiting each row's stored cells in order, not every column."""
        if self.comments:
            super()._write_rows()
            return
        self._calculate_spans()
        for row_num in range(self.dim_rowmin, self.dim_rowmax + 1):
            cols = self.table.get(row_num)
            info = self.row_info.get(row_num)
            if not cols and info is None:
                continue
            span = self.row_spans.get(row_num // 16)
            if not cols:
                self._write_empty_row(row_num, span, info)
                continue
            self._write_row(row_num, span, info)
            for col_num in sorted(cols):
                self._write_cell(row_num, col_num, cols[col_num])
            self._xml_end_tag("row")

    def _write_cell(self, row: int, col: int, cell: object) -> None:
        rendered = self._rendered.get(row)
        if rendered is not None and rendered[0] == col:
            self.fh.write(rendered[1])  # the numbers left of this, already in column order
        super()._write_cell(row, col, cell)
