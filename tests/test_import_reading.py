"""Reading spreadsheets: formats, encodings, delimiters, strict quoting, XLSX cells, mapping."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest

from crm_platform.dataio.engine import ROW_ERROR, RowResult, SourceRow, source_rows
from crm_platform.dataio.exporting import safe_cell
from crm_platform.dataio.mapping import check_mapping, header_key, suggest
from crm_platform.dataio.reading import (
    FileProblem,
    cell_text,
    column_name,
    decode,
    detect_format,
    looks_like_data,
    open_sheet,
    sniff_delimiter,
    unescape_cell,
)
from crm_platform.plugin_types import ImportTarget

pytestmark = pytest.mark.once  # not repeated in the SQLite run (see the Makefile)

TARGET = ImportTarget(
    "people",
    "People",
    {"first_name": "First name", "email": "E-mail", "cf_vip": "VIP level"},
    lambda values: values,
    required=("first_name",),
    aliases={"email": ("mail",)},
    dedupe_fields=("email",),
)


def rows(data: bytes, fmt: str = "csv") -> tuple[list[str], list[tuple[int, list[str]]]]:
    sheet = open_sheet(data, fmt)
    return sheet.headers, list(sheet.rows)


def test_utf8_with_and_without_bom_utf16_and_gb18030() -> None:
    text = "名字,邮箱\n张三,zhang@example.cn\n"
    assert decode(text.encode("utf-8")) == (text, "utf-8")
    assert decode(b"\xef\xbb\xbf" + text.encode("utf-8")) == (text, "utf-8-sig")
    assert decode(text.encode("utf-16")) == (text, "utf-16")
    assert decode(text.encode("gb18030")) == (text, "gb18030")
    headers, found = rows(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert headers == ["名字", "邮箱"] and found == [(2, ["张三", "zhang@example.cn"])]


def test_undecodable_bytes_are_a_clear_error() -> None:
    with pytest.raises(FileProblem, match="cannot be read.*CSV UTF-8"):
        decode(b"name\nJos\x80\xff\n")
    with pytest.raises(FileProblem, match="cannot be read"):
        decode(b"name\x00\x00\x00binary")


def test_delimiters_are_sniffed() -> None:
    assert sniff_delimiter("a;b;c\n1;2;3\n") == ";"
    assert sniff_delimiter("a\tb\n1\t2\n") == "\t"
    assert sniff_delimiter('a,b\n"x;y",2\n') == ","
    assert sniff_delimiter("a|b|c\n1|2|3\n") == "|"
    assert sniff_delimiter("email\nann@example.com\n") == ","
    assert rows(b"First name;E-mail\nAnn;ann@example.com\n")[1] == [(2, ["Ann", "ann@example.com"])]


def test_bad_quotes_name_the_line() -> None:
    with pytest.raises(FileProblem, match="not valid CSV at line 3: a quoted cell must end"):
        rows(b'a,b\n1,2\n"x"y,3\n')
    with pytest.raises(FileProblem, match="line 2: a quote is opened but never closed"):
        rows(b'a,b\n"open,2\n3,4\n')


def test_multiline_cells_and_blank_lines_keep_line_numbers() -> None:
    headers, found = rows(b'a,b\n"two\nlines",1\n\n3,4\r\n')
    assert headers == ["a", "b"]
    assert found == [(2, ["two\nlines", "1"]), (5, ["3", "4"])]


@pytest.mark.parametrize("data", [b"", b"  \n\n", b"\xef\xbb\xbf"])
def test_empty_files(data: bytes) -> None:
    with pytest.raises(FileProblem, match="The file is empty"):
        open_sheet(data, "csv")


def test_formats() -> None:
    assert detect_format("people.csv", b"a,b") == "csv"
    assert detect_format("people", b"a,b") == "csv"
    assert detect_format("people.xlsx", b"PK\x03\x04rest") == "xlsx"
    with pytest.raises(FileProblem, match="old Excel workbook"):
        detect_format("people.xls", b"\xd0\xcf\x11\xe0....")
    with pytest.raises(FileProblem, match="not a valid Excel workbook"):
        detect_format("people.xlsx", b"a,b")
    with pytest.raises(FileProblem, match="Upload a CSV file or an Excel workbook"):
        detect_format("people.pdf", b"%PDF")
    with pytest.raises(FileProblem, match="not a valid Excel workbook"):
        open_sheet(b"PK\x03\x04 broken zip", "xlsx")


def test_xlsx_cells_become_text() -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["First name", "Born", "Phone", "Score", "VIP", "At"])
    sheet.append(["Ann", date(1990, 5, 17), 8613800138000, 2.5, True, datetime(2024, 1, 2, 3, 4)])
    sheet.append([None, None])
    sheet.append(["Bob", datetime(2001, 2, 3), 42.0, None, False])
    out = io.BytesIO()
    book.save(out)
    headers, found = rows(out.getvalue(), "xlsx")
    assert headers == ["First name", "Born", "Phone", "Score", "VIP", "At"]
    assert found == [
        (2, ["Ann", "1990-05-17", "8613800138000", "2.5", "true", "2024-01-02 03:04:00"]),
        (4, ["Bob", "2001-02-03", "42", "", "false"]),
    ]
    assert cell_text(None) == "" and cell_text(0.1) == "0.1"


def test_too_many_columns() -> None:
    header = ",".join(f"c{i}" for i in range(201)).encode()
    with pytest.raises(FileProblem, match="201 columns; an import reads at most 200"):
        open_sheet(header + b"\n" + b"x" * 201, "csv")


def test_suggested_mapping_ignores_unknown_columns() -> None:
    headers = ["E-Mail", "First Name", "Favourite colour", "Mail", "vip", ""]
    assert suggest(headers, TARGET) == ["email", "first_name", None, None, "cf_vip", None]
    assert header_key("E-mail ") == header_key("email") == "email"


def test_mapping_problems() -> None:
    headers = ["Name", "Mail", "Other mail"]
    errors = check_mapping(["first_name", "email", "email"], headers, TARGET, "skip")
    assert errors["col_1"] == errors["col_2"]
    assert "B “Mail”, C “Other mail” are all mapped to E-mail" in errors["col_1"]
    errors = check_mapping([None, "email", None], headers, TARGET, "skip")
    assert errors["mapping"] == "Map a column to each required field: First name."
    errors = check_mapping(["first_name", "nonsense", None], headers, TARGET, "skip")
    assert errors["col_1"] == "Choose one of the listed fields."
    errors = check_mapping(["first_name", None, None], headers, TARGET, "update")
    assert "map a column to it, or choose to create" in errors["dedupe"]
    assert check_mapping(["first_name", None, None], headers, TARGET, "create") == {}
    assert "dedupe" in check_mapping(["first_name", "email", None], headers, TARGET, "merge")
    assert check_mapping([None, None], headers, TARGET, "skip")["mapping"].startswith(
        "The mapping does not fit"
    )
    assert check_mapping([None, None, None], headers, TARGET, "create")["mapping"]


def test_ragged_rows_are_rejected_with_the_counts() -> None:
    found = list(
        source_rows(
            [(2, ["a", "b"]), (3, ["a"]), (4, ["a", "b", "c"]), (5, ["a", "b", " "])],
            2,
            ["first_name", "email"],
            padded=False,
        )
    )
    assert isinstance(found[0], SourceRow) and found[0].values == {"first_name": "a", "email": "b"}
    assert isinstance(found[1], RowResult) and found[1].errors == {
        ROW_ERROR: "This line has 1 cells but the header names 2 columns."
    }
    assert found[2].errors[ROW_ERROR].startswith("This line has 3 cells")
    assert isinstance(found[3], SourceRow)  # trailing empty cells are fine
    padded = list(source_rows([(2, ["a"])], 2, ["first_name", "email"], padded=True))
    assert padded[0].values == {"first_name": "a", "email": ""}


def test_no_header_detection_and_helpers() -> None:
    assert looks_like_data(["Ann", "ann@example.com"]) == "ann@example.com"
    assert looks_like_data(["Ann", "2024-01-02"]) == "2024-01-02"
    assert looks_like_data(["First name", "E-mail"]) is None
    assert [column_name(i) for i in (0, 25, 26, 27, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
    ]


@pytest.mark.parametrize("value", ["=1+1", "+86 21 5555", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_guarded_and_unguarded(value: str) -> None:
    guarded = safe_cell(value)
    assert guarded == "'" + value
    assert unescape_cell(guarded) == value.strip()
    assert safe_cell("plain") == "plain" and safe_cell(5) == 5
    assert unescape_cell("'quoted") == "'quoted"
