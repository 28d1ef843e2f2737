"""Cell formats of the summary's own sheets (the report sheets use template_styles)."""

from __future__ import annotations

from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook

FONT = "宋体"
BAD, WARN, GOOD = ("#9C0006", "#FFC7CE"), ("#9C5700", "#FFEB9C"), ("#006100", "#C6EFCE")


class Formats:
    """The formats of one summary workbook, created once."""

    def __init__(self, wb: Workbook) -> None:
        base = {"font_name": FONT, "font_size": 10, "valign": "vcenter"}

        def fmt(**kw: object) -> Format:
            return wb.add_format({**base, **kw})

        self.title = fmt(bold=True, font_size=16)
        self.section = fmt(bold=True, font_size=12, bottom=1)
        self.head = fmt(bold=True, bg_color="#DDEBF7", border=1, text_wrap=True)
        self.ids = fmt(font_color="#A6A6A6", font_size=8)
        self.text = fmt(text_wrap=True, valign="top")
        self.cell = fmt()
        self.number = fmt(num_format="#,##0.######", align="right")
        self.bad = fmt(font_color=BAD[0], bg_color=BAD[1])
        self.warn = fmt(font_color=WARN[0], bg_color=WARN[1])
        self.good = fmt(font_color=GOOD[0], bg_color=GOOD[1])
        self.note = fmt(font_color="#595959", text_wrap=True, valign="top")

    def for_status(self, status: str) -> Format:
        """Red for 未报 and errors, amber for open 提示, green for passed."""
        return {"未报": self.bad, "已报有错误": self.bad, "错误": self.bad,
                "已报有提示": self.warn, "提示": self.warn, "已报且通过": self.good,
                "已说明": self.good}.get(status, self.cell)  # fmt: skip
