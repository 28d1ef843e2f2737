"""The declaration of the official form and its model."""

from nianbao.form.layout import Layout, layout_for
from nianbao.form.model import ERROR, WARNING, Field, Form, Rule, Severity, Table, load_form

__all__ = [
    "ERROR",
    "WARNING",
    "Field",
    "Form",
    "Layout",
    "Rule",
    "Severity",
    "Table",
    "layout_for",
    "load_form",
]
