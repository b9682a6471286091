"""Errors of the intake stage: a department export that cannot be used names the file (and row and field)."""

from __future__ import annotations

from collections.abc import Sequence

from fangpin.errors import FangpinError
from fangpin.labels import DEPARTMENTS, FIELDS, label


class ExportError(FangpinError):
    def __init__(self, message: str, *, file: str, row: int | None = None, field: str | None = None) -> None:
        self.file = file
        self.row = row
        self.field = field
        self.reason = message
        where = file if row is None else f"{file},第 {row} 行"
        if field:
            where += f",字段 {label(FIELDS, field)}"
        super().__init__(f"{where}: {message}")


class MissingColumnError(ExportError):
    """A file that clearly is one department's export lacks a required column: the run must stop."""

    def __init__(self, *, file: str, department: str, missing: Sequence[tuple[str, str]]) -> None:
        self.department = department
        self.missing = tuple(missing)
        names = "、".join(f"「{header}」({field})" for field, header in self.missing)
        super().__init__(f"{label(DEPARTMENTS, department)}导出文件缺少必需的列 {names}:"
                         "请导出包含这些列的文件后重新上传",
                         file=file, field=self.missing[0][0] if self.missing else None)


class UnreadableFileError(ExportError):
    """The file cannot be opened or decoded, or its rows cannot be told apart."""


class UnrecognisedFileError(ExportError):
    """No row near the top of the file is the header row of any department: list the file and ignore it."""

    def __init__(self, *, file: str, first_rows: Sequence[Sequence[str]] = ()) -> None:
        self.first_rows = tuple(tuple(row) for row in first_rows)
        super().__init__("文件开头几行中没有任何部门导出文件的表头行,已忽略此文件", file=file)
