"""The declaration of the official form and its model."""

from nianbao.form.layout import Layout, layout_for
from nianbao.form.model import (
    ADVISORY,
    MANDATORY,
    Field,
    Form,
    Rule,
    Severity,
    SummarySpec,
    Table,
    load_form,
)

__all__ = [
    "ADVISORY",
    "MANDATORY",
    "Field",
    "Form",
    "Layout",
    "Rule",
    "Severity",
    "SummarySpec",
    "Table",
    "layout_for",
    "load_form",
]
