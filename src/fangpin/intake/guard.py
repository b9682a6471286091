"""Checks on an untrusted export before any parser opens it: its size, and for an xlsx (a zip archive) the
number of entries, their unpacked sizes, how much each one expands, and the size its sheets declare.

These checks read only the zip's directory and the first bytes of each sheet; they catch the plain zip bomb
and the workbook whose only far cell (say XFD1048576) would make the xlsx reader allocate the whole grid.
What they cannot see (a directory that lies about sizes, a sheet without ``<dimension>``) is left to the
reading process's own limits (``intake.parallel``). Limits are in ``FileLimits``; docs/limits.md.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from fangpin.intake.errors import ExportError, UnreadableFileError

MIB = 1 << 20
_SHEET = re.compile(r"^xl/worksheets/[^/]+\.xml$", re.IGNORECASE)
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]{1,3})(\d+)(?::([A-Z]{1,3})(\d+))?\"")
_HEAD = 1 << 16  # a sheet's <dimension> comes before its data, in the first few hundred bytes
_RATIO_FLOOR = MIB  # an entry smaller than this unpacked is not judged by its ratio


class FileLimitError(ExportError):
    """An export over one of the limits on untrusted files: it is not read at all."""


@dataclass(frozen=True)
class FileLimits:
    max_file_bytes: int = 2048 * MIB
    xlsx_max_entries: int = 1000
    xlsx_max_uncompressed_bytes: int = 2048 * MIB
    xlsx_max_ratio: int = 200
    xlsx_max_cells: int = 50_000_000
    xlsx_max_columns: int = 1000
    parse_memory_bytes: int = 4096 * MIB
    parse_seconds: float = 900.0


def is_xlsx(path: Path) -> bool:
    return path.suffix.lower() == ".xlsx"


def check_export(path: Path, limits: FileLimits) -> None:
    """Raise FileLimitError (naming the file and the limit) if ``path`` is over a limit; UnreadableFileError
    if an xlsx is not a zip archive at all."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise UnreadableFileError(f"无法读取: {error.strerror or error}", file=path.name) from error
    if size > limits.max_file_bytes:
        raise FileLimitError(f"文件大小 {_mib(size)},超过单个文件的上限 {_mib(limits.max_file_bytes)}"
                             "(设置项 max_drop_file_mb / max_upload_file_mb):请拆分文件或请管理员调高上限",
                             file=path.name)
    if is_xlsx(path):
        _check_xlsx(path, limits)


def _check_xlsx(path: Path, limits: FileLimits) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > limits.xlsx_max_entries:
                raise FileLimitError(f"xlsx 压缩包内有 {len(entries)} 个条目,超过上限 {limits.xlsx_max_entries}"
                                     "(设置项 xlsx_max_entries):请用 Excel 另存为新的工作簿后重新上传",
                                     file=path.name)
            total = sum(entry.file_size for entry in entries)
            if total > limits.xlsx_max_uncompressed_bytes:
                raise FileLimitError(f"解压后共 {_mib(total)},超过上限 {_mib(limits.xlsx_max_uncompressed_bytes)}"
                                     "(设置项 xlsx_max_uncompressed_mb):请拆分文件或另存为 CSV 后重新上传",
                                     file=path.name)
            for entry in entries:
                ratio = entry.file_size / max(entry.compress_size, 1)
                if entry.file_size >= _RATIO_FLOOR and ratio > limits.xlsx_max_ratio:
                    raise FileLimitError(f"{entry.filename} 解压后膨胀 {ratio:.0f} 倍({_mib(entry.file_size)}),"
                                         f"超过上限 {limits.xlsx_max_ratio} 倍(设置项 xlsx_max_ratio):可能是"
                                         "压缩炸弹,请确认文件来源", file=path.name)
            for entry in entries:
                if _SHEET.match(entry.filename):
                    with archive.open(entry) as stream:
                        _check_dimension(path.name, entry.filename, stream.read(_HEAD), limits)
    except zipfile.BadZipFile as error:
        raise UnreadableFileError(f"无法作为 xlsx 工作簿读取(不是 zip 压缩包: {error}):请用 Excel 另存为"
                                  ".xlsx 或 .csv 后重新上传", file=path.name) from error
    except (OSError, RuntimeError, NotImplementedError, EOFError) as error:
        # an encrypted entry, an unsupported compression, a truncated archive
        raise UnreadableFileError(f"无法作为 xlsx 工作簿读取: {error}:请用 Excel 另存为 .xlsx 或 .csv 后重新上传",
                                  file=path.name) from error


def _check_dimension(file: str, sheet: str, head: bytes, limits: FileLimits) -> None:
    found = _DIMENSION.search(head)
    if found is None:
        return
    first_col, first_row, last_col, last_row = found.groups()
    last_col, last_row = last_col or first_col, last_row or first_row
    columns = _column_number(last_col.decode())
    rows = int(last_row)
    ref = f"{last_col.decode()}{rows}"
    if columns > limits.xlsx_max_columns:
        raise FileLimitError(f"{sheet} 用到了单元格 {ref}: 共 {columns} 列,超过上限 {limits.xlsx_max_columns} 列"
                             f"(设置项 xlsx_max_columns):请删除 {ref} 等远处单元格的内容和格式后另存", file=file)
    if rows * columns > limits.xlsx_max_cells:
        raise FileLimitError(f"{sheet} 用到了单元格 {ref}: 共 {rows * columns} 个单元格,超过上限 "
                             f"{limits.xlsx_max_cells} 个(设置项 xlsx_max_cells):请删除 {ref} 等远处单元格的内容"
                             "和格式后另存", file=file)


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _mib(size: int) -> str:
    return f"{size / MIB:.1f} MiB" if size >= MIB else f"{size} 字节"
