"""One path rule for every proxy: JupyterLab of a workspace, Spark UIs, the history server.

A proxy that checks one reading of a path and forwards a text the upstream reads again is
bypassed wherever the two readings differ: ``…/history/static/%2e%2e/api/v1/applications``
passes an allow-list of ``static/`` and then, normalised by the history server, lists
every studio's applications. So the path is taken from ASGI's ``raw_path`` (still
encoded), decoded exactly once, refused when any further decoding or normalisation could
read it differently, and forwarded segment by segment, re-quoted: the upstream receives
exactly the segments that were checked.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from sparkstudio.rules.text import control_character, segment_problem

MAX_DECODINGS = 4  # a path still changing after this many decodings is refused
# Characters a path segment keeps unencoded upstream (RFC 3986 pchar, less ';' and '%').
SEGMENT_SAFE = "-._~!$&'()*+,=:@"
_ENCODED_DOT_OR_SEPARATOR = re.compile(r"%(2e|2f|5c)", re.IGNORECASE)
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class BadProxyPath(Exception):
    """A path that no proxy forwards; the message is safe to show."""


def checked_proxy_path(raw_path: bytes, prefix: str) -> str:
    """The part of ``raw_path`` after ``prefix``, decoded once, with repeated slashes
    collapsed (a trailing one is kept), or BadProxyPath.

    ``prefix`` is the route's fixed part as it appears in ``raw_path`` (ids only, e.g.
    ``/workspaces/ws-1/``); the path must continue it on a segment boundary.
    """
    try:
        raw = raw_path.decode("ascii")
    except UnicodeDecodeError:
        raise BadProxyPath("the path must be percent-encoded ASCII") from None
    raw = raw.partition("?")[0]  # some servers leave the query string in raw_path
    if control_character(raw):
        raise BadProxyPath("the path contains a control character")
    if "\\" in raw:
        raise BadProxyPath("the path contains a backslash")
    if _STRAY_PERCENT.search(raw):
        raise BadProxyPath("the path has a '%' that starts no escape")
    base = prefix if prefix.endswith("/") else prefix + "/"
    if raw == base.removesuffix("/"):
        return ""
    if not raw.startswith(base):
        raise BadProxyPath("the path is not under this proxy's prefix")
    return _collapsed(_decoded_once(raw[len(base) :]))


def upstream_path(remainder: str) -> str:
    """``remainder`` (from ``checked_proxy_path``) re-quoted segment by segment, to append
    to the upstream's base URL."""
    segments = remainder.split("/")
    for segment in segments:
        problem = segment_problem(segment)
        if problem:
            raise BadProxyPath(f"the path has {problem}")
    return "/".join(quote(segment, safe=SEGMENT_SAFE) for segment in segments)


def _decoded_once(remainder: str) -> str:
    """``remainder`` decoded once, after checking every further decoding too: an upstream
    (or a proxy behind it) that decodes again must not find a step upwards either."""
    once: str | None = None
    level = remainder
    for _ in range(MAX_DECODINGS):
        if _ENCODED_DOT_OR_SEPARATOR.search(level):
            raise BadProxyPath("the path has an encoded '.', '/' or '\\' (%2e, %2f, %5c)")
        try:
            decoded = unquote(level, errors="strict")
        except UnicodeDecodeError:
            raise BadProxyPath(
                "the path has escapes that are not UTF-8 (overlong or broken)"
            ) from None
        _check_segments(decoded)
        if once is None:
            once = decoded
        if decoded == level:
            return once
        level = decoded
    raise BadProxyPath("the path is percent-encoded too many times")


def _check_segments(decoded: str) -> None:
    control = control_character(decoded)
    if control:
        raise BadProxyPath(f"the path has an encoded control character ({control})")
    for segment in decoded.split("/"):
        # Jetty (the Spark UIs) drops ';parameters' from a segment: '..;x' is '..' to it.
        for reading in (segment, segment.partition(";")[0]):
            problem = segment_problem(reading)
            if problem:
                raise BadProxyPath(f"the path has {problem}")


def _collapsed(path: str) -> str:
    joined = "/".join(segment for segment in path.split("/") if segment)
    return joined + "/" if joined and path.endswith("/") else joined
