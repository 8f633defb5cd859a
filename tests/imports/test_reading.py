"""Reading an import file: format, encoding, delimiter, rows and numbering, refusals."""

from __future__ import annotations

import codecs
import datetime as dt
import gc
import io
import json
import zipfile
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

from ingestion.imports.reading import (
    ImportFileError,
    Table,
    detect_format,
    open_table,
    sniff_delimiter,
)


def read(content: bytes, file_name: str = "data.csv", **options) -> Table:
    return open_table(io.BytesIO(content), file_name, **options)


def rows_of(table: Table) -> list[tuple[int, list[str]]]:
    return list(table.rows)


def refusal(content: bytes, file_name: str = "data.csv", **options) -> str:
    with pytest.raises(ImportFileError) as raised:
        rows_of(read(content, file_name, **options))
    return str(raised.value)


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# Delimiters -------------------------------------------------------------------------


def test_comma_separated_file_is_read_with_commas():
    table = read(b"title,status\nCrash,open\n")

    assert (table.format, table.delimiter) == ("csv", ",")
    assert table.headers == ["title", "status"]
    assert rows_of(table) == [(2, ["Crash", "open"])]


def test_semicolon_separated_file_with_decimal_commas_is_read_with_semicolons():
    table = read(b"title;estimate\nCrash;1,5\nHang;2,25\n")

    assert table.delimiter == ";"
    assert rows_of(table) == [(2, ["Crash", "1,5"]), (3, ["Hang", "2,25"])]


def test_tab_separated_txt_file_is_read_with_tabs():
    table = read(b"title\tnote\nCrash\tslow, then stuck\n", "export.txt")

    assert table.delimiter == "\t"
    assert rows_of(table) == [(2, ["Crash", "slow, then stuck"])]


def test_tsv_file_is_read_with_tabs_even_when_commas_would_split_it_as_well():
    table = read(b"a,b\tc\n1,2\t3\n", "data.tsv")

    assert table.delimiter == "\t"
    assert table.headers == ["a,b", "c"]


def test_single_column_file_is_read_with_commas():
    table = read(b"title\nCrash\nHang\n")

    assert table.delimiter == ","
    assert rows_of(table) == [(2, ["Crash"]), (3, ["Hang"])]


def test_commas_inside_quoted_cells_do_not_outvote_semicolons():
    content = b'title;note\n"a, b, c";"d, e"\n"f, g";h\n'

    assert read(content).delimiter == ";"


def test_apostrophes_and_quotes_in_cells_do_not_confuse_the_delimiter():
    sample = "id,title,note\n" + "".join(f"{i},\"it's, {i}\",don't\n" for i in range(3000))

    assert sniff_delimiter(sample) == ","


# Records and numbering ----------------------------------------------------------------


def test_quoted_cells_keep_their_commas_quotes_and_newlines():
    table = read(b'title,note\n"Crash, again","line one\nline ""two"""\n')

    assert rows_of(table) == [(2, ["Crash, again", 'line one\nline "two"'])]


def test_row_numbers_count_records_not_lines():
    table = read(b'title,note\nA,"one\ntwo\nthree"\nB,x\n')

    assert [number for number, _cells in table.rows] == [2, 3]


def test_blank_rows_are_skipped_but_still_counted():
    table = read(b"title,status\nA,open\n\n,\n  ,\t\nB,closed\n")

    assert rows_of(table) == [(2, ["A", "open"]), (6, ["B", "closed"])]


def test_header_cells_are_stripped_and_data_cells_are_kept_as_read():
    table = read(b" title , status\n  Crash ,open \n")

    assert table.headers == ["title", "status"]
    assert rows_of(table) == [(2, ["  Crash ", "open "])]


def test_rows_are_not_padded_to_the_header_width():
    table = read(b"a,b,c\n1\n1,2,3,4\n")

    assert rows_of(table) == [(2, ["1"]), (3, ["1", "2", "3", "4"])]


def test_windows_line_endings_are_read_as_record_ends():
    table = read(b"title,status\r\nCrash,open\r\nHang,closed\r\n")

    assert rows_of(table) == [(2, ["Crash", "open"]), (3, ["Hang", "closed"])]


def test_last_row_without_a_line_end_is_read():
    assert rows_of(read(b"title\nCrash")) == [(2, ["Crash"])]


def test_header_only_file_has_no_rows():
    table = read(b"title,status\n")

    assert table.headers == ["title", "status"]
    assert rows_of(table) == []
    assert table.total_rows is None


def test_file_whose_first_record_is_blank_has_no_header_row():
    assert refusal(b"\ntitle\nCrash\n") == "The file has no header row."


def test_file_with_only_a_bom_has_no_header_row():
    assert refusal(codecs.BOM_UTF8) == "The file has no header row."


def test_duplicate_header_names_are_left_for_the_engine():
    assert read(b"title,title\n1,2\n").headers == ["title", "title"]


def test_unclosed_quote_swallowing_the_file_names_the_row():
    content = b'title,note\nA,x\nB,"never closed\n' + b"C,y\n" * 40_000

    message = refusal(content)

    assert message.startswith("Row 3 cannot be read as CSV: field larger than field limit")
    assert message.endswith("A quoted cell may be missing its closing quote.")


# Encodings ----------------------------------------------------------------------------


def test_utf8_bom_is_not_part_of_the_first_header():
    table = read(codecs.BOM_UTF8 + "titre,état\nPanne,ouvert\n".encode())

    assert table.encoding == "utf-8-sig"
    assert table.headers == ["titre", "état"]
    assert rows_of(table) == [(2, ["Panne", "ouvert"])]


def test_file_without_bom_is_read_as_utf8():
    table = read("title\nÜberlauf €\n".encode())

    assert table.encoding == "utf-8"
    assert rows_of(table) == [(2, ["Überlauf €"])]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_is_read_in_either_byte_order(codec):
    bom = codecs.BOM_UTF16_LE if codec == "utf-16-le" else codecs.BOM_UTF16_BE
    content = bom + "titre;état\nPanne;ouvert 😀\n".encode(codec)

    table = read(content)

    assert (table.encoding, table.delimiter) == ("utf-16", ";")
    assert table.headers == ["titre", "état"]
    assert rows_of(table) == [(2, ["Panne", "ouvert 😀"])]


def test_cp1252_file_is_read_with_the_declared_fallback():
    table = read("title,owner\nCafé crash,Zoë \N{EN DASH} QA\n".encode("cp1252"), encoding="cp1252")

    assert table.encoding == "cp1252"
    assert rows_of(table) == [(2, ["Café crash", "Zoë \N{EN DASH} QA"])]


def test_declared_fallback_is_not_used_when_the_file_is_valid_utf8():
    table = read("title\nCafé\n".encode(), encoding="latin-1")

    assert table.encoding == "utf-8"
    assert rows_of(table) == [(2, ["Café"])]


def test_byte_order_mark_wins_over_the_declared_fallback():
    table = read(codecs.BOM_UTF8 + "title\nCafé\n".encode(), encoding="cp1252")

    assert table.encoding == "utf-8-sig"
    assert rows_of(table) == [(2, ["Café"])]


def test_utf32_file_is_refused():
    content = "title\nCrash\n".encode("utf-32")

    assert refusal(content) == "The file is UTF-32 text: save it as UTF-8."


def test_file_that_is_not_utf8_without_a_fallback_names_the_first_bad_byte():
    content = "title\nCafé\n".encode("cp1252")

    assert refusal(content) == (
        "The file is not valid UTF-8: the first bad byte is at offset 9 (0xE9). "
        "Save it as UTF-8, or name its encoding (for example --encoding cp1252)."
    )


# Chunks of 16 bytes: offsets 0-15 are the first chunk, 16-31 the second.
@pytest.mark.parametrize(
    ("content", "offset", "value"),
    [
        pytest.param(b"\xe9itle\n", 0, 0xE9, id="first byte"),
        pytest.param(b"title\n" + b"x" * 10 + b"\xe9\n", 16, 0xE9, id="first of a chunk"),
        pytest.param(b"title\n" + b"x" * 9 + b"\xe9\n", 15, 0xE9, id="last of a chunk"),
        pytest.param(
            b"title\n" + b"x" * 8 + b"\xe2\x82A\n", 14, 0xE2, id="sequence cut by a chunk, bad"
        ),
        pytest.param(
            b"title\n" + b"x" * 9 + "€".encode() + b"\xff\n",
            18,
            0xFF,
            id="sequence cut by a chunk, valid, bad byte after",
        ),
        pytest.param(b"title\n" + b"x" * 40 + b"\x80\n", 46, 0x80, id="third chunk"),
        pytest.param(b"title\nx\xe2\x82", 7, 0xE2, id="sequence cut by the end of the file"),
    ],
)
def test_bad_byte_offset_is_exact_across_chunk_boundaries(content, offset, value):
    message = refusal(content, chunk_size=16)

    assert f"the first bad byte is at offset {offset} (0x{value:02X})" in message


def test_bad_byte_at_the_end_of_a_long_file_is_reported_before_any_row_is_read():
    content = b"title\n" + b"Crash\n" * 300_000 + b"Caf\xe9\n"

    with pytest.raises(ImportFileError, match="offset 1800009 "):
        read(content)


def test_byte_that_the_fallback_cannot_decode_either_is_named():
    content = b"title\n" + b"x" * 20 + b"\x81\n"

    assert refusal(content, encoding="cp1252", chunk_size=16) == (
        "The file is neither valid UTF-8 (first bad byte at offset 26) nor valid cp1252: "
        "for cp1252 the first bad byte is at offset 26 (0x81). "
        "Name the encoding it was saved in."
    )


def test_unknown_fallback_encoding_is_named():
    assert refusal(b"title\nx\n", encoding="klingon-8") == (
        'Unknown encoding "klingon-8": name one such as cp1252, latin-1 or utf-16.'
    )


def test_codec_that_is_not_a_text_encoding_is_refused():
    message = refusal(b"title\nx\n", encoding="base64")

    assert message.startswith('"base64" is not a text encoding')


def test_file_with_utf8_bom_but_a_bad_byte_names_it():
    message = refusal(codecs.BOM_UTF8 + b"title\nCaf\xe9\n")

    assert message == (
        "The file starts with a UTF-8 byte order mark but is not valid UTF-8: "
        "the first bad byte is at offset 12 (0xE9). Save it again as UTF-8."
    )


def test_utf16_file_with_a_lone_surrogate_names_its_offset():
    content = codecs.BOM_UTF16_LE + "title\nab".encode("utf-16-le") + b"\x00\xdcc\x00"

    message = refusal(content)

    assert "not valid UTF-16: the first bad byte is at offset 18 (0x00)" in message


def test_nul_character_past_the_first_block_is_refused_with_its_offset():
    content = b"title,n\n" + b"Crash,1\n" * 2000 + b"Hang,\x00\n"

    assert refusal(content) == (
        "The file has a NUL character at byte offset 16013: it looks like binary data, "
        "not text. Check that it is the file you meant to import."
    )


# Content that disagrees with the extension -----------------------------------------------


def test_zip_named_csv_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", "title\nCrash\n")

    assert refusal(buffer.getvalue(), "data.csv") == (
        "The file is named data.csv but its content is a ZIP archive (an XLSX file?). "
        "Save it as CSV, or upload it with the .xlsx extension."
    )


def test_xlsx_named_json_is_refused():
    message = refusal(xlsx_bytes([["title"], ["Crash"]]), "rows.json")

    assert message.startswith("The file is named rows.json but its content is a ZIP archive")


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\n1 0 obj", "a PDF document"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"),
        (b"GIF89a\x01\x00", "a GIF image"),
        (b"\x1f\x8b\x08\x00", "a gzip archive"),
        (b"\x7fELF\x02\x01\x01\x00", "a program (an ELF executable)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "an old Excel .xls workbook"),
        (b"title\x00,x\n1,2\n", "binary data (it has NUL bytes), not text"),
    ],
)
def test_binary_content_named_csv_is_refused_saying_what_it_is(content, what):
    message = refusal(content, "report.csv")

    assert message.startswith(f"The file is named report.csv but its content is {what}")


def test_csv_text_named_xlsx_is_refused():
    assert refusal(b"title,status\nCrash,open\n", "bugs.xlsx") == (
        "The file is named bugs.xlsx but its content is text, not an XLSX workbook "
        "(a CSV file?). Upload it with the .csv extension, or save it as XLSX."
    )


def test_old_xls_workbook_named_xlsx_is_refused():
    message = refusal(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "bugs.xlsx")

    assert "an old Excel .xls workbook or a password-protected one" in message


def test_unknown_extension_names_it_and_the_accepted_ones():
    assert refusal(b"title\n", "bugs.xls") == (
        "The file bugs.xls has the extension .xls, which the hub does not import: "
        "save it as one of .csv, .tsv, .txt, .xlsx, .json."
    )


def test_file_name_without_extension_is_refused():
    assert refusal(b"title\n", "bugs").startswith("The file bugs has no extension")


@pytest.mark.parametrize("file_name", ["data.csv", "data.xlsx", "data.json"])
def test_empty_file_is_refused(file_name):
    assert refusal(b"", file_name) == "The file is empty."


def test_extension_is_read_whatever_its_case():
    assert detect_format("BUGS.CSV", b"title\n") == "csv"
    assert detect_format("Bugs.Xlsx", b"PK\x03\x04rest") == "xlsx"


# XLSX ---------------------------------------------------------------------------------


def test_xlsx_values_become_the_text_a_person_would_type():
    content = xlsx_bytes(
        [
            ["title", "opened", "due", "count", "estimate", "whole", "flag", "empty"],
            ["Crash", dt.datetime(2024, 3, 1, 9, 30), dt.date(2024, 4, 2), 7, 2.5, 3.0, True, None],
        ]
    )

    table = read(content, "bugs.xlsx")

    assert (table.format, table.encoding, table.delimiter) == ("xlsx", "", "")
    assert table.headers == [
        "title",
        "opened",
        "due",
        "count",
        "estimate",
        "whole",
        "flag",
        "empty",
    ]
    assert rows_of(table) == [
        (2, ["Crash", "2024-03-01T09:30:00", "2024-04-02", "7", "2.5", "3", "true", ""])
    ]


def test_xlsx_blank_rows_are_skipped_but_counted():
    content = xlsx_bytes([[" title ", "status"], ["A", "open"], [None, None], ["B", " "], ["C", 1]])

    table = read(content, "bugs.xlsx")

    assert table.headers == ["title", "status"]
    assert table.total_rows == 3
    assert rows_of(table) == [(2, ["A", "open"]), (4, ["B", " "]), (5, ["C", "1"])]


def test_xlsx_with_header_only_has_no_rows():
    table = read(xlsx_bytes([["title", "status"]]), "bugs.xlsx")

    assert (table.headers, table.total_rows, rows_of(table)) == (["title", "status"], 0, [])


def test_xlsx_without_any_cell_has_no_header_row():
    assert refusal(xlsx_bytes([]), "bugs.xlsx") == "The file has no header row."


def test_zip_that_is_not_a_workbook_could_not_be_read_as_xlsx():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")

    message = refusal(buffer.getvalue(), "bugs.xlsx")

    assert message.startswith("The file could not be read as XLSX: ")


def test_xlsx_bytes_read_is_the_file_size():
    content = xlsx_bytes([["title"], ["Crash"]])

    assert read(content, "bugs.xlsx").bytes_read() == len(content)


# JSON ---------------------------------------------------------------------------------


def test_json_headers_are_every_key_in_first_seen_order_and_missing_keys_are_empty():
    content = json.dumps([{"title": "Crash", "status": "open"}, {"owner": "zoe", "title": "Hang"}])

    table = read(content.encode(), "bugs.json")

    assert (table.format, table.encoding, table.total_rows) == ("json", "utf-8", 2)
    assert table.headers == ["title", "status", "owner"]
    assert rows_of(table) == [(2, ["Crash", "open", ""]), (3, ["Hang", "", "zoe"])]


def test_json_values_become_the_text_a_person_would_type():
    content = b'[{"n": 3, "whole": 3.0, "part": 2.5, "yes": true, "no": false, "none": null}]'

    assert rows_of(read(content, "bugs.json")) == [(2, ["3", "3", "2.5", "true", "false", ""])]


def test_json_objects_with_only_empty_values_are_skipped_but_counted():
    content = b'[{"title": "A"}, {"title": null}, {}, {"title": " "}, {"title": "B"}]'

    table = read(content, "bugs.json")

    assert table.total_rows == 2
    assert rows_of(table) == [(2, ["A"]), (6, ["B"])]


def test_json_in_utf16_with_bom_is_read():
    content = codecs.BOM_UTF16_LE + ' [{"titre": "Panne é"}]'.encode("utf-16-le")

    table = read(content, "bugs.json")

    assert (table.encoding, rows_of(table)) == ("utf-16", [(2, ["Panne é"])])


def test_json_that_is_not_a_list_is_refused():
    message = refusal(b'{"title": "Crash"}', "bugs.json")

    assert message.startswith("The file is named bugs.json but its content is not a JSON list")


def test_json_list_item_that_is_not_an_object_names_the_row():
    message = refusal(b'[{"title": "A"}, ["B"]]', "bugs.json")

    assert message.startswith("Row 3 (item 2 of the list) is not a JSON object")


def test_nested_json_value_names_the_row_and_key():
    message = refusal(b'[{"title": "A"}, {"title": "B", "tags": ["ui"]}]', "bugs.json")

    assert message.startswith('Row 3, key "tags": a nested list or object cannot be imported')


def test_invalid_json_names_line_and_column():
    assert refusal(b'[\n  {"title": "A"}\n  {"title": "B"}\n]', "bugs.json") == (
        "The file is not valid JSON: Expecting ',' delimiter at line 3, column 3."
    )


def test_empty_json_list_is_refused():
    assert refusal(b"[]", "bugs.json") == (
        "The file holds an empty JSON list: there is nothing to import."
    )


def test_json_bytes_read_is_the_file_size():
    content = b'[{"title": "A"}]'

    assert read(content, "bugs.json").bytes_read() == len(content)


# Streaming and the caller's file ------------------------------------------------------------


def test_bytes_read_grows_while_reading_and_ends_at_the_file_size():
    content = b"title,n\n" + b"".join(b"Crash,%d\n" % n for n in range(50_000))
    table = read(content)
    positions = []

    for number, _cells in table.rows:
        if number in (10_000, 20_000, 30_000, 40_000):
            positions.append(table.bytes_read())

    assert positions == sorted(positions)
    assert positions[0] < positions[-1] < len(content)
    assert table.bytes_read() == len(content)


def test_large_csv_is_streamed_not_read_whole(tmp_path: Path):
    path = tmp_path / "large.csv"
    with path.open("wb") as file:
        file.write(b"title,status,owner\n")
        file.writelines(b"Crash number %d,open,zoe@example.com\n" % n for n in range(200_000))
    size = path.stat().st_size

    with path.open("rb") as file:
        table = open_table(file, "large.csv")
        first = next(table.rows)
        read_at_first_row = table.bytes_read()
        last_number = max(number for number, _cells in table.rows)

    assert first == (2, ["Crash number 0", "open", "zoe@example.com"])
    assert read_at_first_row < size / 100
    assert last_number == 200_001


def test_callers_file_stays_open_after_reading_all_rows():
    file = io.BytesIO(b"title\nCrash\n")

    rows_of(open_table(file, "data.csv"))

    assert not file.closed


def test_callers_file_stays_open_when_the_rows_are_never_read():
    file = io.BytesIO(b"title\nCrash\n")
    table = open_table(file, "data.csv")

    del table
    gc.collect()

    assert not file.closed


def test_callers_file_stays_open_when_reading_stops_halfway():
    file = io.BytesIO(b"title\nCrash\nHang\n")
    table = open_table(file, "data.csv")
    next(table.rows)

    del table
    gc.collect()

    assert not file.closed


def test_file_is_read_from_its_start_whatever_its_position():
    file = io.BytesIO(b"title\nCrash\n")
    file.seek(7)

    assert rows_of(open_table(file, "data.csv")) == [(2, ["Crash"])]


def test_django_in_memory_upload_is_read():
    upload = SimpleUploadedFile("bugs.csv", b"title;status\nCrash;open\n", "text/csv")

    table = open_table(upload, upload.name)

    assert rows_of(table) == [(2, ["Crash", "open"])]
    assert not upload.closed


def test_django_temporary_upload_is_read():
    content = codecs.BOM_UTF8 + b"title,status\nCrash,open\n"
    upload = TemporaryUploadedFile("bugs.csv", "text/csv", len(content), None)
    upload.write(content)
    upload.seek(0)

    try:
        table = open_table(upload, upload.name)
        assert rows_of(table) == [(2, ["Crash", "open"])]
        assert table.bytes_read() == len(content)
    finally:
        upload.close()
