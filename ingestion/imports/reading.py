"""Reading an import file: the uploaded bytes → a header and rows of text cells.

The first stage of an import. It decides the format from the file name, checks that
the content agrees, settles the text encoding for the whole file before the first
row is handed out (so an import never writes half a file and then meets a bad
byte), and reads CSV as a stream so memory stays flat however long the file is.
XLSX and JSON are loaded whole: tablib and json need the whole document anyway.

Everything that makes the file as a whole unreadable is an ImportFileError whose
message tells a person what to fix; what is wrong with one row is for the engine.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, BinaryIO, cast

import tablib

FORMAT_BY_EXTENSION = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".json": "json",
}
FORMAT_LABELS = {"csv": "CSV", "xlsx": "XLSX", "json": "JSON"}

# The first block, read once to check that the content is what the extension says.
HEAD_SIZE = 8 * 1024
# The decodability pass reads this much at a time; tests make it tiny to put a bad
# byte on either side of a chunk boundary.
CHUNK_SIZE = 1024 * 1024
# Decoded text the delimiter is guessed from.
SNIFF_SIZE = 64 * 1024
DELIMITERS = (",", ";", "\t")

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# (first bytes, what the content is, what else the person could do besides saving as text)
_BINARY_SIGNATURES = (
    (_ZIP, "a ZIP archive (an XLSX file?)", "upload it with the .xlsx extension"),
    (b"PK\x05\x06", "an empty ZIP archive", None),
    (_OLE, "an old Excel .xls workbook (or another Office file)", "save it as .xlsx"),
    (b"%PDF-", "a PDF document", None),
    (b"\x1f\x8b", "a gzip archive", "decompress it first"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", None),
    (b"\xff\xd8\xff", "a JPEG image", None),
    (b"GIF87a", "a GIF image", None),
    (b"GIF89a", "a GIF image", None),
    (b"\x7fELF", "a program (an ELF executable)", None),
)
_UTF16_BOMS = {codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be"}
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


class ImportFileError(Exception):
    """The file as a whole cannot be read. The message names what is wrong, for a person."""


def _nothing_read() -> int:
    return 0


@dataclass
class Table:
    """One file opened for import: its header and a single-pass iterator over its rows."""

    format: str  # "csv", "xlsx" or "json"
    headers: list[str]  # as in the file, BOM removed, outer whitespace stripped
    # (row number as a spreadsheet shows it, cells); rows with only blank cells are left out
    rows: Iterator[tuple[int, list[str]]]
    total_rows: int | None  # rows `rows` yields, when known (xlsx, json); None for csv
    encoding: str  # the codec used; "" for xlsx
    delimiter: str  # csv only, else ""
    _position: Callable[[], int] = field(default=_nothing_read, repr=False, compare=False)

    def bytes_read(self) -> int:
        """Bytes of the file consumed so far (csv progress); the file size once loaded."""
        return self._position()


def open_table(
    file: BinaryIO,
    file_name: str,
    *,
    encoding: str | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Table:
    """Open a seekable binary file for import; `encoding` is the fallback when not UTF-8.

    Reads from the start of the file whatever its current position, and leaves it open.
    """
    fallback = text_codec_name(encoding) if encoding else None
    file.seek(0)
    head = file.read(HEAD_SIZE)
    table_format = detect_format(file_name, head)
    if table_format == "xlsx":
        return _load_xlsx(file)
    text_encoding, sample = _settle_encoding(file, head, fallback, chunk_size)
    if table_format == "json":
        return _load_json(file, text_encoding)
    is_tsv = PurePath(file_name).suffix.lower() == ".tsv"
    delimiter = "\t" if is_tsv else sniff_delimiter(sample)
    return _stream_csv(file, text_encoding, delimiter)


def detect_format(file_name: str, head: bytes) -> str:
    """The format named by the extension, once the first bytes show the content agrees."""
    extension = PurePath(file_name).suffix.lower()
    table_format = FORMAT_BY_EXTENSION.get(extension)
    if table_format is None:
        raise ImportFileError(_unknown_extension_message(file_name, extension))
    if not head:
        raise ImportFileError("The file is empty.")
    if table_format == "xlsx":
        _check_xlsx_head(file_name, head)
    else:
        _check_text_head(file_name, table_format, head)
    return table_format


def _unknown_extension_message(file_name: str, extension: str) -> str:
    accepted = ", ".join(FORMAT_BY_EXTENSION)
    if not extension:
        return f"The file {file_name} has no extension: the hub imports {accepted} files."
    return (
        f"The file {file_name} has the extension {extension}, which the hub does not import: "
        f"save it as one of {accepted}."
    )


def _binary_kind(head: bytes) -> tuple[str, str | None] | None:
    for signature, what, alternative in _BINARY_SIGNATURES:
        if head.startswith(signature):
            return what, alternative
    return None


def _check_text_head(file_name: str, table_format: str, head: bytes) -> None:
    label = FORMAT_LABELS[table_format]
    kind = _binary_kind(head)
    if kind is None and b"\x00" in head and not head.startswith(tuple(_UTF16_BOMS)):
        kind = ("binary data (it has NUL bytes), not text", None)
    if kind is not None:
        what, alternative = kind
        instead = f", or {alternative}" if alternative else ""
        raise ImportFileError(
            f"The file is named {file_name} but its content is {what}. Save it as {label}{instead}."
        )
    if table_format == "json" and _first_character(head) not in ("", "["):
        raise ImportFileError(
            f"The file is named {file_name} but its content is not a JSON list (it should "
            'start with "["): give a list of objects, one per row, like [{"title": "Crash"}].'
        )


def _first_character(head: bytes) -> str:
    """The first character after any BOM and whitespace ("" if there is none in the head)."""
    for bom, codec in _UTF16_BOMS.items():
        if head.startswith(bom):
            # An odd tail would be half a code unit; the head may also end inside a pair.
            units = head[len(bom) : len(head) - (len(head) - len(bom)) % 2]
            return units.decode(codec, errors="replace").lstrip()[:1]
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    return text[:1].decode("latin-1")


def _check_xlsx_head(file_name: str, head: bytes) -> None:
    if head.startswith(_ZIP):
        return
    if head.startswith(_OLE):
        raise ImportFileError(
            f"The file is named {file_name} but its content is an old Excel .xls workbook "
            "or a password-protected one. Save it as .xlsx without a password, or as CSV."
        )
    kind = _binary_kind(head)
    if kind is not None:
        what = kind[0]
        raise ImportFileError(
            f"The file is named {file_name} but its content is {what}, not an XLSX workbook."
        )
    if b"\x00" not in head or head.startswith(tuple(_UTF16_BOMS)):
        raise ImportFileError(
            f"The file is named {file_name} but its content is text, not an XLSX workbook "
            "(a CSV file?). Upload it with the .csv extension, or save it as XLSX."
        )
    raise ImportFileError(f"The file is named {file_name} but its content is not an XLSX workbook.")


# Encoding ---------------------------------------------------------------------------


class _UndecodableByte(Exception):
    def __init__(self, offset: int, value: int) -> None:
        super().__init__(offset, value)
        self.offset = offset
        self.value = value

    def __str__(self) -> str:
        return f"the first bad byte is at offset {self.offset} (0x{self.value:02X})"


def text_codec_name(name: str) -> str:
    """The canonical name of a codec that decodes bytes to text, or ImportFileError."""
    try:
        codec = codecs.lookup(name)
    except LookupError:
        raise ImportFileError(
            f'Unknown encoding "{name}": name one such as cp1252, latin-1 or utf-16.'
        ) from None
    # base64, rot13, zlib… are codecs too, but not between bytes and text;
    # io.TextIOWrapper refuses them by this same private flag.
    if not getattr(codec, "_is_text_encoding", True):
        raise ImportFileError(
            f'"{name}" is not a text encoding: name one such as cp1252, latin-1 or utf-16.'
        )
    return codec.name


def _settle_encoding(
    file: BinaryIO, head: bytes, fallback: str | None, chunk_size: int
) -> tuple[str, str]:
    """(codec to read the file with, the first decoded text for sniffing).

    The whole file is decoded once here, so a bad byte is reported before any row is.
    """
    if head.startswith(_UTF32_BOMS):
        raise ImportFileError("The file is UTF-32 text: save it as UTF-8.")
    if head.startswith(codecs.BOM_UTF8):
        try:
            return "utf-8-sig", _decode_all(file, "utf-8", len(codecs.BOM_UTF8), chunk_size)
        except _UndecodableByte as failure:
            raise ImportFileError(
                "The file starts with a UTF-8 byte order mark but is not valid UTF-8: "
                f"{failure}. Save it again as UTF-8."
            ) from None
    for bom, codec in _UTF16_BOMS.items():
        if head.startswith(bom):
            try:
                # Reading uses "utf-16", which takes the byte order from the BOM itself.
                return "utf-16", _decode_all(file, codec, len(bom), chunk_size)
            except _UndecodableByte as failure:
                raise ImportFileError(
                    "The file starts with a UTF-16 byte order mark but is not valid UTF-16: "
                    f"{failure}. Save it again as UTF-8 or UTF-16."
                ) from None
    try:
        return "utf-8", _decode_all(file, "utf-8", 0, chunk_size)
    except _UndecodableByte as failure:
        if fallback is None:
            raise ImportFileError(
                f"The file is not valid UTF-8: {failure}. Save it as UTF-8, "
                "or name its encoding (for example --encoding cp1252)."
            ) from None
        utf8_failure = failure
    try:
        return fallback, _decode_all(file, fallback, 0, chunk_size)
    except _UndecodableByte as failure:
        raise ImportFileError(
            f"The file is neither valid UTF-8 (first bad byte at offset {utf8_failure.offset}) "
            f"nor valid {fallback}: for {fallback} {failure}. Name the encoding it was saved in."
        ) from None


def _decode_all(file: BinaryIO, codec: str, start: int, chunk_size: int) -> str:
    """Decode the file from `start` to its end; return the first SNIFF_SIZE characters.

    Raises _UndecodableByte with the absolute offset of the first bad byte, and
    ImportFileError at a NUL character (PostgreSQL text cannot hold one, and the csv
    module no longer refuses them).
    """
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    file.seek(start)
    position = start  # offset of the chunk about to be decoded
    sample: list[str] = []
    sample_length = 0
    while True:
        chunk = file.read(chunk_size)
        # Bytes the decoder held back from earlier chunks (half a multi-byte character):
        # error offsets count from the first of them, not from this chunk.
        pending = len(decoder.getstate()[0])
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            raise _UndecodableByte(
                position - pending + error.start, error.object[error.start]
            ) from None
        nul = text.find("\x00")
        if nul != -1:
            offset = position - pending + len(text[:nul].encode(codec, errors="replace"))
            raise ImportFileError(
                f"The file has a NUL character at byte offset {offset}: it looks like binary "
                "data, not text. Check that it is the file you meant to import."
            )
        if sample_length < SNIFF_SIZE:
            sample.append(text[: SNIFF_SIZE - sample_length])
            sample_length += len(sample[-1])
        if not chunk:
            file.seek(0)
            return "".join(sample)
        position += len(chunk)


# CSV --------------------------------------------------------------------------------


def sniff_delimiter(sample: str) -> str:
    """Comma, semicolon or tab: the one that splits the header and keeps rows as wide.

    csv.Sniffer would do, but its quote-guessing regex is quadratic: a crafted 64 KiB
    sample took it 6 s. Parsing the sample with csv.reader once per candidate is linear
    and understands quoted cells. Comma when nothing splits the header (one column).
    """
    if len(sample) >= SNIFF_SIZE and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]  # the last line may be cut short
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            widths = [
                len(cells)
                for cells in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
            ]
        except csv.Error:
            continue
        widths = [width for width in widths if width]
        if not widths or widths[0] < 2:
            continue
        alike = sum(1 for width in widths if width == widths[0]) / len(widths)
        score = (alike, widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _stream_csv(file: BinaryIO, encoding: str, delimiter: str) -> Table:
    records = _csv_records(file, encoding, delimiter)
    # The generator's first item is the header; taking it now starts the generator, so
    # its `finally` (which keeps the wrapper from closing our caller's file) always runs.
    header = cast(list[str], next(records))
    return Table(
        format="csv",
        headers=_clean_headers(header),
        rows=cast(Iterator[tuple[int, list[str]]], records),
        total_rows=None,
        encoding=encoding,
        delimiter=delimiter,
        _position=file.tell,
    )


def _csv_records(file: BinaryIO, encoding: str, delimiter: str) -> Iterator[Any]:
    """Yields the header, then (row number, cells) for each record that is not blank.

    The hot loop of a CSV import: a million rows pass through here, so the only work
    per row beyond csv.reader is the blank check, first cell first.
    """
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
    try:
        records = csv.reader(text, delimiter=delimiter)
        try:
            header = next(records, None)
        except csv.Error as error:
            raise ImportFileError(f"The header row cannot be read as CSV: {error}.") from None
        if not header or not "".join(header).strip():
            raise ImportFileError("The file has no header row.")
        yield header
        row_number = 1
        try:
            for row_number, cells in enumerate(records, 2):
                if cells and (cells[0].strip() or "".join(cells).strip()):
                    yield row_number, cells
        except csv.Error as error:
            raise ImportFileError(_csv_error_message(row_number + 1, error)) from None
    finally:
        # A TextIOWrapper closes its buffer when it goes; the file is the caller's.
        if not text.buffer.closed:
            text.detach()


def _csv_error_message(row_number: int, error: csv.Error) -> str:
    message = f"Row {row_number} cannot be read as CSV: {error}."
    if "field limit" in str(error):
        message += " A quoted cell may be missing its closing quote."
    return message


def _clean_headers(header: list[str]) -> list[str]:
    headers = [cell.strip() for cell in header]
    # Only a BOM the encoding did not take (a second one, or one in a fallback codec).
    headers[0] = headers[0].lstrip("\ufeff").strip()
    return headers


# XLSX and JSON ----------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A spreadsheet or JSON value as the text a person would have typed for it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores every number as a float: 3.0 was typed 3
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        # openpyxl reads every date cell as a datetime: 2024-04-02 was typed, not midnight.
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _is_blank(cells: list[str]) -> bool:
    return not "".join(cells).strip()


def _loaded_table(
    table_format: str,
    headers: list[str],
    rows: list[tuple[int, list[str]]],
    encoding: str,
    size: int,
) -> Table:
    if not "".join(headers).strip():
        raise ImportFileError("The file has no header row.")
    return Table(
        format=table_format,
        headers=_clean_headers(headers),
        rows=iter(rows),
        total_rows=len(rows),
        encoding=encoding,
        delimiter="",
        _position=lambda: size,
    )


def _load_xlsx(file: BinaryIO) -> Table:
    file.seek(0)
    content = file.read()
    try:
        dataset = tablib.Dataset().load(content, format="xlsx")
    # openpyxl parses untrusted zip and XML and can fail in many ways (BadZipFile,
    # KeyError for a missing part, XML errors, InvalidDimensions from tablib…); each
    # means the same thing to the person: this workbook cannot be read.
    except Exception as error:
        reason = str(error) or type(error).__name__
        raise ImportFileError(f"The file could not be read as XLSX: {reason}.") from None
    headers = [cell_text(value) for value in dataset.headers or []]
    rows = []
    for index, values in enumerate(dataset, 2):
        cells = [cell_text(value) for value in values]
        if not _is_blank(cells):
            rows.append((index, cells))
    return _loaded_table("xlsx", headers, rows, "", len(content))


def _load_json(file: BinaryIO, encoding: str) -> Table:
    file.seek(0)
    content = file.read()
    try:
        document = json.loads(content.decode(encoding))
    except json.JSONDecodeError as error:
        raise ImportFileError(
            f"The file is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    except (ValueError, RecursionError) as error:  # integers too long, nesting too deep
        raise ImportFileError(f"The file is not valid JSON: {error}.") from None
    if not isinstance(document, list):
        raise ImportFileError("The file must hold a JSON list of objects, one per row.")
    if not document:
        raise ImportFileError("The file holds an empty JSON list: there is nothing to import.")
    keys = _json_keys(document)
    rows = []
    for row_number, item in enumerate(document, 2):
        cells = [_json_cell(item.get(key), row_number, key) for key in keys]
        if not _is_blank(cells):
            rows.append((row_number, cells))
    return _loaded_table("json", list(keys), rows, encoding, len(content))


def _json_keys(document: list[Any]) -> dict[str, None]:
    """Every key of every object, in the order first seen (a dict as an ordered set)."""
    keys: dict[str, None] = {}
    for row_number, item in enumerate(document, 2):
        if not isinstance(item, dict):
            raise ImportFileError(
                f"Row {row_number} (item {row_number - 1} of the list) is not a JSON object: "
                'each row must be an object like {"title": "Crash"}.'
            )
        keys.update(dict.fromkeys(item))
    return keys


def _json_cell(value: Any, row_number: int, key: str) -> str:
    if isinstance(value, dict | list):
        raise ImportFileError(
            f'Row {row_number}, key "{key}": a nested list or object cannot be imported; '
            "give text, a number, true/false or null."
        )
    return cell_text(value)
