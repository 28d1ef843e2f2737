"""Cell formats of the template and the summary (colours, borders, fonts)."""

from __future__ import annotations

from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook

FONT = "宋体"
INPUT_FILL = "#FFF2CC"
TOTAL_FILL = "#DDEBF7"
LABEL_FILL = "#F2F2F2"


class Styles:
    """The formats one workbook uses, created once per workbook."""

    def __init__(self, wb: Workbook) -> None:
        base = {"font_name": FONT, "font_size": 10, "valign": "vcenter", "text_wrap": True}
        boxed = {**base, "border": 1}

        def fmt(**kw: object) -> Format:
            return wb.add_format({**boxed, **kw})

        self.title = wb.add_format({**base, "bold": True, "font_size": 16, "align": "center"})
        self.table_title = wb.add_format({**base, "bold": True, "font_size": 13})
        self.header = fmt(bold=True, align="center", bg_color=LABEL_FILL)
        self.row_label = fmt(align="left", bg_color=LABEL_FILL)
        self.corner = fmt(align="center", bg_color=LABEL_FILL, font_size=9)
        self.field_label = fmt(bold=True, align="center", bg_color=LABEL_FILL)
        self.text_label = fmt(bold=True, align="left", bg_color=LABEL_FILL, font_size=11)
        self.hint = wb.add_format({**base, "italic": True, "font_color": "#7F7F7F", "font_size": 9})
        self.check_label = fmt(bold=True, align="center", bg_color=LABEL_FILL, font_size=9)
        self.count = fmt(locked=False, bg_color=INPUT_FILL, num_format="0", align="right")
        self.amount = fmt(locked=False, bg_color=INPUT_FILL, num_format="General", align="right")
        self.text_input = fmt(locked=False, bg_color=INPUT_FILL, align="left", valign="top")
        self.total = fmt(bg_color=TOTAL_FILL, num_format="0", align="right", bold=True)
        self.check = fmt(bold=True, align="center")
        self.ok = wb.add_format({"font_color": "#006100", "bg_color": "#C6EFCE"})
        self.fail = wb.add_format({"font_color": "#9C0006", "bg_color": "#FFC7CE"})
        self._labels = {
            "title": self.table_title,
            "block_header": self.header,
            "column": self.header,
            "corner": self.corner,
            "row": self.row_label,
            "header": self.field_label,
            "text": self.text_label,
            "hint": self.hint,
            "check": self.check_label,
        }

    def for_label(self, role: str) -> Format:
        return self._labels[role]

    def input_for(self, kind: str) -> Format:
        return self.amount if kind == "amount" else self.count
