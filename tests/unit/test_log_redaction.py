"""Secrets a client puts in a URL are masked before a log handler sees them."""

from __future__ import annotations

import logging

import httpx
import pytest

from sparkstudio.log_redaction import REDACTED_LOGGERS, SecretRedactor, redact, redact_server_logs

TOKEN = "sst.tok-0123456789abcdef.Zm9vYmFyLWJhei1xdXV4X2hlbGxv"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"/me?token={TOKEN}", "/me?token=<redacted>"),
        ("/lab?x=1&password=hunter2&y=2", "/lab?x=1&password=<redacted>&y=2"),
        ("/cb?code=abc&state=s1", "/cb?code=<redacted>&state=s1"),
        ("/a?access_token=abc#frag", "/a?access_token=<redacted>#frag"),
        (f"/tokens/{TOKEN}", "/tokens/sst.tok-0123456789abcdef.<redacted>"),
        (f"Bearer {TOKEN} used", "Bearer sst.tok-0123456789abcdef.<redacted> used"),
        ("/studios?limit=5&name=x", "/studios?limit=5&name=x"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_filter_masks_arguments_of_any_type_and_keeps_numbers() -> None:
    url = httpx.URL(f"http://driver:4040/jobs/?token={TOKEN}")
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, 'HTTP Request: %s %s "%d"', ("GET", url, 200), None
    )
    assert SecretRedactor().filter(record)
    message = record.getMessage()
    assert message == 'HTTP Request: GET http://driver:4040/jobs/?token=<redacted> "200"'


def test_installing_twice_adds_one_filter() -> None:
    redact_server_logs()
    redact_server_logs()
    for name in REDACTED_LOGGERS:
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, SecretRedactor) for f in filters) == 1
