"""The summary workbook's own layout: its sheet names, column headers and hidden id row.

summary.py writes this shape; summary_read.py (and through it previous.py and mail.py) reads
it back. Headers that name a part of the form (情况说明) come from the declaration.
"""

from __future__ import annotations

from nianbao.form import Form

OVERVIEW, DETAIL, PROBLEMS, STATUS, FILES, CHARTS = (
    "汇总",
    "明细",
    "问题",
    "报送情况",
    "文件清单",
    "图表",
)

# 报送情况: one row per unit; read back by mail.read_status (columns found by header).
STATUS_UNIT, STATUS_CODE, STATUS_STATE, STATUS_EMAIL = "单位名称", "单位代码", "状态", "邮箱"
STATUS_HEADERS = (
    STATUS_UNIT,
    STATUS_CODE,
    "类别",
    "上级单位",
    STATUS_STATE,
    "联系人",
    STATUS_EMAIL,
    "文件",
    "错误数",
    "提示数",
    "已说明数",
    "说明",
)

# 问题: one row per issue; read back by summary_read (carried up) and mail.read_status.
PROBLEM_UNIT, PROBLEM_FILE, PROBLEM_PLACE, PROBLEM_CODE = "单位", "文件", "位置", "代码"
PROBLEM_LEVEL, PROBLEM_TEXT = "级别", "问题"

# 文件清单: one row per file received.
FILE_HEADERS = ("文件", "单位", "结果", "说明", "SHA-256")

# 明细: a header row, a hidden row of field ids, then one row per unit (its name first).
DETAIL_UNIT_HEADERS = ("单位名称", "单位代码", "类别", "状态", "文件", "SHA-256")
DETAIL_ID_ROW = 1  # 0-based; the figure columns carry their field id here
DETAIL_FIRST_ROW = DETAIL_ID_ROW + 1
DETAIL_UNIT_COL = 0


def note_label(form: Form) -> str:
    """The form's name for a unit's explanation of its 提示 (情况说明)."""
    return form.text_fields["note"].label


def problem_headers(form: Form) -> tuple[str, ...]:
    """The 问题 sheet's header row."""
    return (
        PROBLEM_UNIT,
        PROBLEM_FILE,
        PROBLEM_PLACE,
        PROBLEM_CODE,
        PROBLEM_LEVEL,
        PROBLEM_TEXT,
        note_label(form),
    )


def detail_fixed(form: Form) -> tuple[str, ...]:
    """The 明细 sheet's columns before the figures."""
    return (*DETAIL_UNIT_HEADERS, note_label(form))


def report_sheets(form: Form) -> tuple[str, ...]:
    """The sheets of the official report inside a summary (front sheet and tables)."""
    return (form.front_sheet, *(t.sheet for t in form.tables))
