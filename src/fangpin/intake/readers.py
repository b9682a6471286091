"""One export file (CSV or .xlsx) to a raw table of strings, every row numbered as a spreadsheet shows it.

CSV: the encoding is detected (UTF-8 with a BOM, UTF-8, else GB18030, a superset of GBK); every physical line
counts, blank lines and title lines included, and a quoted cell spanning lines makes one row numbered by its
first line. xlsx: the first sheet or a named one, numbered by sheet row; number cells arrive as their shortest
decimal text and date cells as ISO text, so the value readers see what was written. The header row is the
first row near the top that the caller's test accepts; the rows above it are skipped as ``title`` (or
``blank``).

Length: over 300 lines because one concern, numbering every row as the file shows it, takes both formats,
decoding and parsing a large file in chunks (mapped, not read whole), quoted line breaks and finding the line
of a stray quote; split, the parts would share every private helper.
"""

from __future__ import annotations

import codecs
import csv
import io
import mmap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from fangpin.intake.errors import UnreadableFileError, UnrecognisedFileError

HeaderTest = Callable[[Sequence[str | None]], bool]

MAX_HEADER_ROWS = 20
Data = bytes | mmap.mmap  # a file's bytes, read (a small file) or mapped (a large one)
BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 1 << 16
CHUNK_BYTES = 8 << 20
_HEAD_BYTES = 1 << 20

SKIPPED_SCHEMA = {"row": pl.Int64, "reason": pl.String}


@dataclass(frozen=True)
class RawTable:
    """The rows of one file as strings: ``cells`` has ``row`` (Int64) and ``c0``..``c{n-1}`` (String, null
    for an empty cell), one row per row after the header; ``skipped`` the rows above the header."""

    file: str
    encoding: str
    header_row: int
    header: tuple[str, ...]
    cells: pl.DataFrame
    skipped: pl.DataFrame
    columns: tuple[str, ...]  # c0.. in file order


@dataclass(frozen=True)
class _Head:
    header_row: int
    header: tuple[str, ...]
    skipped: list[tuple[int, str]]
    end_line: int  # physical line on which the header row ends
    end_offset: int  # byte offset just after it


def column_names(width: int) -> list[str]:
    return [f"c{index}" for index in range(width)]


def read_table(path: Path, is_header: HeaderTest, *, sheet: str | None = None,
               max_header_rows: int = MAX_HEADER_ROWS) -> RawTable:
    """The whole file as one raw table."""
    tables = list(read_tables(path, is_header, sheet=sheet, max_header_rows=max_header_rows))
    if len(tables) == 1:
        return tables[0]
    return replace(tables[0], cells=pl.concat([table.cells for table in tables]))


def read_tables(path: Path, is_header: HeaderTest, *, sheet: str | None = None,
                max_header_rows: int = MAX_HEADER_ROWS, chunk_bytes: int | None = None) -> Iterator[RawTable]:
    """The file as consecutive raw tables: one, or for a CSV larger than ``chunk_bytes`` one per ~``chunk_bytes``.

    Decoding GBK is Python's codec, which holds the GIL; reading a chunk at a time lets the caller work on
    one chunk (polars releases the GIL) while the next is decoded. Only the first table has the rows above
    the header in ``skipped``; every chunk ends at a line end outside quotes.
    """
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        yield _read_xlsx(path, is_header, sheet, max_header_rows)
        return
    size = chunk_bytes or CHUNK_BYTES
    data = _open(path, size)
    encoding, start = _sniff(path.name, data)
    head = _csv_head(path.name, data, start, encoding, is_header, max_header_rows)
    width = max(len(head.header), 1)
    table = RawTable(
        file=path.name, encoding=encoding, header_row=head.header_row, header=head.header, cells=pl.DataFrame(),
        skipped=_skipped_frame(head.skipped), columns=tuple(column_names(width)),
    )
    if isinstance(data, bytes) and encoding != "gb18030":
        # polars skips the lines up to the header itself: no copy of the file
        yield replace(table, cells=_parse_body(path.name, data, head.end_line, head.end_offset, width,
                                               head.end_line + 1))
        return
    # A large file a chunk at a time, so that its cells are held one chunk at a time (the caller hands each
    # chunk's rows on); GBK is decoded chunk by chunk too.
    first_line = head.end_line + 1
    for number, (begin, end) in enumerate(_chunks(data, head.end_offset, size)):
        raw = data[begin:end]
        body = _gb18030_to_utf8(path.name, raw) if encoding == "gb18030" else raw
        _release(data, end)
        cells = _parse_body(path.name, body, 0, 0, width, first_line)
        del body
        yield replace(table, cells=cells, skipped=table.skipped if number == 0 else table.skipped.clear())
        first_line += raw.count(b"\n")
        del raw


def _chunks(data: Data, begin: int, size: int) -> Iterator[tuple[int, int]]:
    """Byte ranges of about ``size`` from ``begin`` to the end, each ending just after a newline with an even
    number of quotes before it in the range (so no quoted cell spans two ranges); at least one range."""
    while True:
        if begin + size >= len(data):
            yield begin, len(data)
            return
        newline = data.find(b"\n", begin + size)
        quotes = data[begin:newline].count(b'"') if newline >= 0 else 0
        while newline >= 0 and quotes % 2:
            following = data.find(b"\n", newline + 1)
            quotes += data[newline:following].count(b'"') if following >= 0 else 0
            newline = following
        end = len(data) if newline < 0 else newline + 1
        yield begin, end
        if end >= len(data):
            return
        begin = end


def read_header(path: Path, is_header: HeaderTest, *, sheet: str | None = None,
                max_header_rows: int = MAX_HEADER_ROWS) -> tuple[int, tuple[str, ...]]:
    """Only the header row (its number and cells): cheap for CSV, which is read no further."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        table = _load_sheet(path, sheet, n_rows=max_header_rows)
        head = _find_header(path.name, _sheet_records(table), is_header, max_header_rows)
        return head.header_row, head.header
    data = _read_bytes(path, limit=_HEAD_BYTES)
    if len(data) == _HEAD_BYTES:  # the start of a large file, cut after a whole line, unless lines are huge
        data = data[: data.rindex(b"\n") + 1] if data.count(b"\n") > max_header_rows else _read_bytes(path)
    encoding, start = _sniff(path.name, data)
    head = _csv_head(path.name, data, start, encoding, is_header, max_header_rows)
    return head.header_row, head.header


# --- CSV ---------------------------------------------------------------------------------------------------

def _read_bytes(path: Path, limit: int = -1) -> bytes:
    try:
        with path.open("rb") as stream:
            return stream.read(limit)
    except OSError as error:
        raise UnreadableFileError(f"无法读取: {error.strerror or error}", file=path.name) from error


def _sniff(file: str, data: Data) -> tuple[str, int]:
    """The encoding and where the text starts. A start that is valid UTF-8 with non-ASCII text in it is
    taken as UTF-8 (GBK text is practically never valid UTF-8); polars checks the rest strictly. A large
    file is looked at a block at a time."""
    if data[:len(BOM)] == BOM:
        return "utf-8-sig", len(BOM)
    if all(block.isascii() for block in _blocks(data)):
        return "utf-8", 0
    prefix = data[:_SNIFF_BYTES]
    try:
        codecs.getincrementaldecoder("utf-8")().decode(prefix, final=len(prefix) == len(data))
    except UnicodeDecodeError:
        return "gb18030", 0
    if not prefix.isascii():
        return "utf-8", 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for block in _blocks(data):
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "gb18030", 0
    return "utf-8", 0


def _blocks(data: Data) -> Iterator[bytes]:
    """The file's bytes a block at a time (a mapped file's pages let go of once looked at)."""
    for begin in range(0, len(data), CHUNK_BYTES):
        block = data[begin:begin + CHUNK_BYTES]
        _release(data, begin + len(block))
        yield block


def _open(path: Path, size: int) -> Data:
    """The file's bytes: read if it is at most ``size`` bytes, else mapped (``_mapped``)."""
    try:
        large = path.stat().st_size > size
    except OSError:
        return _read_bytes(path)  # which says why it cannot be read
    return _mapped(path) if large else _read_bytes(path)


def _mapped(path: Path) -> mmap.mmap:
    """A large file mapped rather than read: its pages are read as they are used and let go of once a chunk
    is parsed (``_release``), so reading holds a chunk of it, not the file."""
    try:
        with path.open("rb") as stream:
            return mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as error:
        raise UnreadableFileError(f"无法读取: {getattr(error, 'strerror', None) or error}", file=path.name) from error


def _release(data: Data, end: int) -> None:
    """Let go of a mapped file's pages before ``end`` (read again from the file should they be used again)."""
    if isinstance(data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        end -= end % mmap.PAGESIZE
        if end > 0:
            data.madvise(mmap.MADV_DONTNEED, 0, end)


def _csv_head(file: str, data: Data, start: int, encoding: str, is_header: HeaderTest,
              max_header_rows: int) -> _Head:
    codec = "utf-8" if encoding.startswith("utf-8") else encoding
    offsets: list[int] = []  # byte offset after each physical line consumed

    def lines() -> Iterator[str]:
        position = start
        while position < len(data):
            newline = data.find(b"\n", position)
            end = len(data) if newline < 0 else newline + 1
            line = data[position:end]
            position = end
            offsets.append(end)
            yield line.decode(codec)

    reader = csv.reader(lines())
    records: list[tuple[int, list[str]]] = []
    previous_end = 0
    try:
        for cells in reader:
            first_line, previous_end = previous_end + 1, reader.line_num
            records.append((first_line, cells))
            if is_header(cells):
                skipped = [(row, _kind_of(values)) for row, values in records[:-1]]
                return _Head(first_line, tuple(cells), skipped, previous_end, offsets[previous_end - 1])
            if len(records) >= max_header_rows:
                break
    except (UnicodeDecodeError, csv.Error) as error:
        raise UnreadableFileError(f"无法按 {encoding} 编码读取为 CSV: {error}:请另存为 UTF-8 或 GB18030 编码的"
                                  "CSV 后重新上传", file=file) from error
    raise UnrecognisedFileError(file=file, first_rows=[values for _, values in records])


def _parse_body(file: str, data: bytes, skip_lines: int, offset: int, width: int,
                first_line: int) -> pl.DataFrame:
    """The records of ``data`` after its first ``skip_lines`` lines (``offset`` bytes), every field a string."""
    names = column_names(width)
    if offset >= len(data):
        return pl.DataFrame(schema={"row": pl.Int64, **dict.fromkeys(names, pl.String)})
    try:
        frame = pl.read_csv(
            data, has_header=False, skip_lines=skip_lines, schema=dict.fromkeys(names, pl.String),
            missing_columns="insert", truncate_ragged_lines=True, quote_char='"', raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as error:
        found = _locate_csv_error(data, offset, first_line)
        if found is not None:
            line, reason = found
            raise UnreadableFileError(f"无法读取为 CSV: 从这一行开始的记录中有一个引号(\")没有正确地开始或结束"
                                      f"一个单元格({_csv_reason(reason)}):请在 Excel 中打开此文件、检查这一行后"
                                      "另存为 CSV", file=file, row=line) from error
        detail = (str(error).strip().splitlines() or ["无详细信息"])[0]
        raise UnreadableFileError(f"无法读取为 CSV: {detail}:请在 Excel 中打开此文件检查后另存为 CSV",
                                  file=file) from error
    rows, dropped = _physical_rows(file, data, offset, frame.height, first_line)
    frame = frame.with_columns(row=rows).select("row", *names)
    if dropped.len():  # a reader that skips empty lines: they are rows all the same (blank ones)
        frame = pl.concat([frame, dropped.to_frame("row")], how="diagonal").sort("row")
    return frame


_CSV_REASONS = {
    "',' expected after '\"'": "引号后应紧跟逗号",
    "unexpected end of data": "文件在引号内结束",
    "new-line character seen in unquoted field": "未加引号的单元格中有换行",
}


def _csv_reason(reason: str) -> str:
    """What Python's csv module says is wrong, in Chinese where it is one of its usual sentences."""
    return _CSV_REASONS.get(reason.split(" - ")[0], reason)


def _locate_csv_error(data: bytes, offset: int, first_line: int) -> tuple[int, str] | None:
    """Where a CSV the fast reader refused goes wrong, as a person finds it: the physical line on which the
    broken record starts (a stray quote), by a strict reading with Python's csv module."""
    text = bytes(data[offset:]).decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        for _ in reader:
            start = reader.line_num + 1
    except csv.Error as error:
        return first_line + start - 1, str(error)
    return None


def _physical_rows(file: str, data: bytes, offset: int, height: int,
                   first_line: int) -> tuple[pl.Series, pl.Series]:
    """The physical line each parsed record starts on, and the empty lines the CSV reader did not return.

    Without quoted line breaks, records are lines; otherwise a line starts a record when the quotes on the
    lines before it are balanced.
    """
    lines = data.count(b"\n", offset) + (0 if data.endswith(b"\n") else 1)
    none = pl.Series("row", [], dtype=pl.Int64)
    if lines == height:
        return pl.int_range(first_line, first_line + height, dtype=pl.Int64, eager=True), none
    text = pl.Series([data[offset:]]).cast(pl.String).str.split("\n").explode()
    if data.endswith(b"\n"):
        text = text.head(len(text) - 1)
    quotes = text.str.count_matches('"', literal=True).cast(pl.Int64)
    starts = ((quotes.cum_sum() - quotes) % 2) == 0
    empty = starts & (text.str.strip_chars_end("\r") == "")
    number = pl.int_range(first_line, first_line + len(text), dtype=pl.Int64, eager=True).alias("row")
    if int(starts.sum()) == height:
        return number.filter(starts), none
    if int((starts & ~empty).sum()) == height:
        return number.filter(starts & ~empty), number.filter(empty)
    raise UnreadableFileError(f"{lines} 行中的 {height} 条记录无法区分开(引号或换行有误):请在 Excel 中打开"
                              "此文件检查后另存为 CSV", file=file)


def _gb18030_to_utf8(file: str, body: bytes | memoryview) -> bytes:
    try:
        return str(body, "gb18030").encode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableFileError(f"既不是 UTF-8 也不是 GBK/GB18030 编码的文本(第 {error.start} 字节):请另存为"
                                  "UTF-8 或 GB18030 编码的 CSV 后重新上传", file=file) from error


# --- xlsx --------------------------------------------------------------------------------------------------

def _read_xlsx(path: Path, is_header: HeaderTest, sheet: str | None, max_header_rows: int) -> RawTable:
    table = _load_sheet(path, sheet)
    head = _find_header(path.name, _sheet_records(table.head(max_header_rows)), is_header, max_header_rows)
    width = max(len(head.header), 1)
    names = column_names(width)
    body = table.slice(head.header_row)
    body = body.select(body.columns[:width]).rename(dict(zip(body.columns[:width], names, strict=True)))
    for name in names[body.width:]:
        body = body.with_columns(pl.lit(None, pl.String).alias(name))
    rows = pl.int_range(head.header_row + 1, head.header_row + 1 + body.height, dtype=pl.Int64, eager=True)
    return RawTable(
        file=path.name, encoding="xlsx", header_row=head.header_row, header=head.header,
        cells=body.with_columns(row=rows).select("row", *names), skipped=_skipped_frame(head.skipped),
        columns=tuple(names),
    )


def _load_sheet(path: Path, sheet: str | None, n_rows: int | None = None) -> pl.DataFrame:
    options: dict[str, object] = {"header_row": None, "skip_rows": 0, "dtypes": "string"}
    if n_rows is not None:
        options["n_rows"] = n_rows
    where: dict[str, object] = {"sheet_id": 1} if sheet is None else {"sheet_name": sheet}
    try:
        table = pl.read_excel(
            path, engine="calamine", has_header=False, read_options=options, drop_empty_rows=False,
            drop_empty_cols=False, raise_if_empty=False, **where,  # type: ignore[call-overload]
        )
    except Exception as error:  # calamine raises its own exception types, and ValueError for a missing sheet
        raise UnreadableFileError(f"无法作为 xlsx 工作簿读取: {error}:请用 Excel 另存为 .xlsx 或 .csv 后重新上传",
                                  file=path.name) from error
    if not isinstance(table, pl.DataFrame):
        raise UnreadableFileError("找不到工作表:请确认工作簿中有数据所在的工作表", file=path.name)
    return table.select(pl.all().cast(pl.String))


def _sheet_records(table: pl.DataFrame) -> list[tuple[int, list[str]]]:
    return [(index + 1, ["" if cell is None else str(cell) for cell in values])
            for index, values in enumerate(table.rows())]


def _find_header(file: str, records: list[tuple[int, list[str]]], is_header: HeaderTest,
                 max_header_rows: int) -> _Head:
    for position, (row, cells) in enumerate(records[:max_header_rows]):
        if is_header(cells):
            skipped = [(number, _kind_of(values)) for number, values in records[:position]]
            return _Head(row, tuple(cells), skipped, row, 0)
    raise UnrecognisedFileError(file=file, first_rows=[values for _, values in records[:max_header_rows]])


# --- shared ------------------------------------------------------------------------------------------------

def _kind_of(cells: Sequence[str]) -> str:
    return "title" if any(cell.strip() for cell in cells) else "blank"


def _skipped_frame(skipped: list[tuple[int, str]]) -> pl.DataFrame:
    return pl.DataFrame(skipped, schema=SKIPPED_SCHEMA, orient="row")
