"""Keep secrets a client put in a URL out of the server's logs.

The API never takes a token or password in a URL, but a client may still send one in a
query string (``?token=…`` as Jupyter links do), and the access log writes every query
string. The filter masks token secrets and the values of secret-looking query parameters
in each record before any handler sees it.
"""

from __future__ import annotations

import logging
import re

MASK = "<redacted>"
# Loggers that write text a client chose: the request line, what could not be parsed,
# and the URLs the control plane forwards (the Spark UIs get the client's query string).
REDACTED_LOGGERS = ("uvicorn.access", "uvicorn.error", "httpx")

# sst.<token id>.<secret>: the id is a public handle, the secret is masked.
_TOKEN = re.compile(r"\b(sst\.[A-Za-z0-9-]*\.)[A-Za-z0-9_-]+")
_SECRET_PARAMETER = re.compile(
    r"([?&;][^=&;#\s]*(?:token|passw|secret|code|key|auth|session)[^=&;#\s]*=)[^&;#\s\"]*",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    return _SECRET_PARAMETER.sub(rf"\1{MASK}", _TOKEN.sub(rf"\1{MASK}", text))


def _redact_argument(value: object) -> object:
    if isinstance(value, int | float) or value is None:
        return value  # may be formatted with %d
    text = str(value)  # e.g. an httpx.URL
    redacted = redact(text)
    return value if redacted == text else redacted


class SecretRedactor(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_argument(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_argument(v) for k, v in record.args.items()}
        return True


def redact_server_logs() -> None:
    """Install the filter on those loggers (once, however often it is called)."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretRedactor) for f in logger.filters):
            logger.addFilter(SecretRedactor())
