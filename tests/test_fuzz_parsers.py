"""Fuzzing (hypothesis) of what reads outside input: the import's file reader, the ERP file
connector's CSV/JSON drops and its webhook signature check, the inbound e-mail's recipient
parser and HTML sanitiser. Whatever the bytes, each answers with its own clear refusal
(``FileProblem``, a drop's line errors, a signature problem, ``None``) and never crashes."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_platform.dataio.reading import FileProblem, open_sheet
from crm_platform.webhooks.signing import verify_signature as verify_outbound
from plugins.erp import file_connector
from plugins.service.inbound import parse_recipient
from plugins.service.sanitise import clean_html, html_to_text, strip_quoted

pytestmark = pytest.mark.once  # not repeated in the SQLite run (see the Makefile)

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
#: Bytes that look a little like CSV: separators, quotes, newlines, BOMs and odd code units.
csvish = st.lists(
    st.sampled_from(
        [b",", b";", b"\t", b'"', b"\n", b"\r\n", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00", b"a"]
        + [b"name", b"=1+2", b"'x", b"\xe4\xbd\xa0", b"\x80", b" "]
    ),
    max_size=60,
).map(b"".join)


def _read_all(data: bytes, fmt: str, encoding: str | None) -> None:
    try:
        sheet = open_sheet(data, fmt, encoding=encoding)
        for _row in sheet.rows:
            pass
    except FileProblem as problem:
        assert str(problem)  # a message for the member


def test_the_import_reader_refuses_bad_files_clearly(app: Any) -> None:
    @FUZZ
    @given(
        data=st.one_of(st.binary(max_size=300), csvish),
        encoding=st.sampled_from([None, "utf-8", "gb18030", "utf-16"]),
    )
    def check(data: bytes, encoding: str | None) -> None:
        _read_all(data, "csv", encoding)

    @FUZZ
    @given(data=st.binary(max_size=300).map(lambda b: b"PK\x03\x04" + b))
    def check_xlsx(data: bytes) -> None:
        _read_all(data, "xlsx", None)

    with app.test_request_context():
        check()
        check_xlsx()


def test_erp_drops_answer_with_line_errors(app: Any) -> None:
    records = st.lists(
        st.dictionaries(
            st.sampled_from(["object", "external_id", "updated_at", "deleted", "data", "x"]),
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(),
                st.text(max_size=20),
                st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
            ),
            max_size=6,
        ),
        max_size=5,
    )

    @FUZZ
    @given(
        body=st.one_of(
            st.binary(max_size=300),
            csvish,
            records.map(lambda r: json.dumps({"records": r}).encode()),
        )
    )
    def check(body: bytes) -> None:
        for drop in (file_connector.read_json(body), file_connector.read_csv(body, "party")):
            assert all(isinstance(e, str) and e for e in drop.errors)
            if drop.errors:
                continue
            for record in drop.records:
                assert record.external_id

    with app.test_request_context():
        check()


def test_webhook_signatures_refuse_whatever_header_comes(app: Any) -> None:
    body = b'{"records": []}'
    good = file_connector.signature_header("a-long-enough-secret", body)

    @FUZZ
    @given(
        header=st.one_of(
            st.none(), st.text(max_size=120), st.just(good), st.just(good.replace("v1=", "v1=0"))
        )
    )
    def check(header: str | None) -> None:
        problem = file_connector.verify_signature("a-long-enough-secret", header, body)
        assert (problem is None) == (header == good)
        # the core's own check (outbound webhooks' scheme): the same verdict
        assert verify_outbound("a-long-enough-secret", header, body, now=time.time()) is (
            header == good
        )

    with app.test_request_context():
        check()


def test_inbound_recipients_parse_or_are_refused(app: Any) -> None:
    @FUZZ
    @given(address=st.text(max_size=80) | st.sampled_from(["support+acme@x", "support+a+b@x"]))
    def check(address: str) -> None:
        route = parse_recipient(address)
        assert route is None or (route.slug and "@" not in route.slug)

    with app.app_context():
        check()


@FUZZ
@given(
    html=st.text(max_size=400)
    | st.sampled_from(
        [
            "<script>alert(1)</script>x",
            "<img src=x onerror=alert(1)>",
            "<a href='javascript:x'>y</a>",
            "<svg><script>1</script></svg>",
            "<style>*{}</style><p>hi</p>",
            "&lt;script&gt;",
        ]
    )
)
def test_inbound_html_is_sanitised(html: str) -> None:
    cleaned = clean_html(html)
    lowered = cleaned.lower()
    assert "<script" not in lowered and "onerror" not in lowered and "javascript:" not in lowered
    assert isinstance(html_to_text(cleaned), str) and isinstance(strip_quoted(html), str)
