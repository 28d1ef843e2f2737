"""Write the sample roster of 化隆县 units: units.xlsx and units.csv (python make_roster.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
from openpyxl.styles import Font

HEADER = ["单位名称", "单位代码", "上级单位", "类别", "联系人", "邮箱"]
COUNTY = "化隆回族自治县人民政府"
# Fictional contacts and codes; e-mail addresses only on the reserved example domains.
UNITS = [
    ["巴燕镇", "632127101", COUNTY, "乡镇", "马建国", "bayan@example.cn"],
    ["群科镇", "632127102", COUNTY, "乡镇", "韩秀英", "qunke@example.cn"],
    ["甘都镇", "632127103", COUNTY, "乡镇", "冶永福", "gandu@example.cn"],
    ["扎巴镇", "632127104", COUNTY, "乡镇", "李文军", "zhaba@example.cn"],
    ["昂思多镇", "632127105", COUNTY, "乡镇", "马玉兰", ""],
    ["牙什尕镇", "632127106", COUNTY, "乡镇", "张海龙", "yashiga@example.cn"],
    ["县教育局", "632127201", COUNTY, "县直部门", "王丽娟", "jiaoyu@example.com"],
    ["县财政局", "632127202", COUNTY, "县直部门", "赵德明", "caizheng@example.com"],
    ["县卫生健康局", "632127203", COUNTY, "县直部门", "刘春花", "weijian@example.com"],
    ["县自然资源局", "632127204", COUNTY, "县直部门", "韩明亮", "ziran@example.com"],
    ["县人力资源和社会保障局", "632127205", COUNTY, "县直部门", "孙海燕", "renshe@example.com"],
    ["县市场监督管理局", "632127206", COUNTY, "县直部门", "马成林", "shijian@example.com"],
]
WIDTHS = {"A": 26, "B": 12, "C": 24, "D": 10, "E": 10, "F": 24}


def write_xlsx(path: Path) -> Path:
    """The roster as a workbook with a bold header row, codes kept as text."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "单位名单"
    ws.append(HEADER)
    for row in UNITS:
        ws.append(row)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for col, width in WIDTHS.items():
        ws.column_dimensions[col].width = width
    wb.save(path)
    return path


def write_csv(path: Path) -> Path:
    """The roster as UTF-8 CSV with a BOM, so Excel on Windows shows the Chinese correctly."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(UNITS)
    return path


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    for written in (write_xlsx(here / "units.xlsx"), write_csv(here / "units.csv")):
        print(written)
