"""One path rule for every proxy: what is checked is exactly what the upstream receives."""

from __future__ import annotations

import posixpath
import unicodedata
from urllib.parse import unquote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sparkstudio.api.proxy_paths import BadProxyPath, checked_proxy_path, upstream_path

HISTORY = "/api/v1/studios/st-1/clusters/cl-1/history/"
WORKSPACE = "/workspaces/ws-1/"


@pytest.mark.parametrize(
    ("raw", "remainder", "upstream"),
    [
        (b"history/app-1/jobs/", "history/app-1/jobs/", "history/app-1/jobs/"),
        (b"api/v1/applications/app-1/1/stages", "api/v1/applications/app-1/1/stages", None),
        (b"static/webui.js", "static/webui.js", None),
        (b"", "", ""),
        (b"files/my%20notebook.ipynb", "files/my notebook.ipynb", "files/my%20notebook.ipynb"),
        (b"files/100%25.ipynb", "files/100%.ipynb", "files/100%25.ipynb"),
        (b"files/caf%C3%A9.csv", "files/café.csv", "files/caf%C3%A9.csv"),
        (b"files/a;b.txt", "files/a;b.txt", "files/a%3Bb.txt"),
        (b"files/%3F%23.txt", "files/?#.txt", "files/%3F%23.txt"),
        (b"files/(1)+x@y:z", "files/(1)+x@y:z", None),
        (b"files/...", "files/...", None),
        (b"files/..a/.b", "files/..a/.b", None),
        (b"//history//app-1///jobs/", "history/app-1/jobs/", "history/app-1/jobs/"),
        (b"history/app-1?with=query", "history/app-1", "history/app-1"),
    ],
)
def test_paths_under_the_prefix_are_decoded_once(
    raw: bytes, remainder: str, upstream: str | None
) -> None:
    assert checked_proxy_path(HISTORY.encode() + raw, HISTORY) == remainder
    assert upstream_path(remainder) == (raw.decode() if upstream is None else upstream)


def test_the_prefix_itself_without_its_slash_is_the_empty_path() -> None:
    assert checked_proxy_path(b"/workspaces/ws-1", WORKSPACE) == ""
    assert checked_proxy_path(b"/workspaces/ws-1", "/workspaces/ws-1") == ""
    assert checked_proxy_path(b"/workspaces/ws-1/lab", "/workspaces/ws-1") == "lab"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        # The attack from the history server: an allow-listed static/ that climbs out.
        (HISTORY + "static/%2e%2e/api/v1/applications", "encoded '.'"),
        (HISTORY + "static/%2E%2E/api/v1/applications", "encoded '.'"),
        (HISTORY + "static/.%2e/api/v1/applications", "encoded '.'"),
        (HISTORY + "static/%252e%252e/api/v1/applications", "encoded '.'"),
        (HISTORY + "static/%25252e%25252e/api/v1/applications", "encoded '.'"),
        (HISTORY + "static/../api/v1/applications", "'..' segment"),
        (HISTORY + "static/./x", "'.' segment"),
        (HISTORY + "static/..;/api/v1/applications", "'..' segment"),  # Jetty drops ';…'
        (HISTORY + "static/..;jsessionid=1/api", "'..' segment"),
        (HISTORY + "static/%2e%2e%3b/api", "encoded '.'"),
        (HISTORY + "static%2f..%2fapi/v1/applications", "encoded '.', '/'"),
        (HISTORY + "static%2F..", "encoded '.', '/'"),
        (HISTORY + "static%5c..%5capi", "encoded '.', '/' or '\\'"),
        (HISTORY + "static\\..\\api", "backslash"),
        (HISTORY + "static/%c0%ae%c0%ae/api", "not UTF-8"),
        (HISTORY + "static/%c0%af", "not UTF-8"),
        (HISTORY + "static/%e0%80%ae", "not UTF-8"),
        (HISTORY + "static/%ed%a0%80", "not UTF-8"),
        (HISTORY + "static/%ff", "not UTF-8"),
        (HISTORY + "static/%e2%80%a5/api", "Unicode normalisation turns into '..'"),
        (HISTORY + "static/%ef%bc%8e%ef%bc%8e/api", "Unicode normalisation turns into '..'"),
        (HISTORY + "static/x%ef%bc%8fy", "separator"),
        # NUL and control characters, encoded or not: a 400, never a 500.
        (HISTORY + "a%00b", "control character"),
        (HISTORY + "a%2500b", "control character"),
        (HISTORY + "a\x00b", "control character"),
        (HISTORY + "a%0d%0aSet-Cookie:x", "control character"),
        (HISTORY + "a%7f", "control character"),
        (HISTORY + "a%c2%85", "control character"),
        (HISTORY + "a%zz", "starts no escape"),
        (HISTORY + "a%", "starts no escape"),
        # Not under the prefix, or under it only by its spelling.
        ("/api/v1/studios/st-1/clusters/cl-10/history/x", "not under"),
        ("/api/v1/studios/st-1/clusters/cl-2/history/x", "not under"),
        ("/api/v1/studios/st-1/clusters/cl%2d1/history/x", "not under"),
        ("/api/v1/studios/st-1/clusters/cl-1/historyx", "not under"),
    ],
)
def test_ambiguous_paths_are_refused(raw: str, why: str) -> None:
    with pytest.raises(BadProxyPath) as caught:
        checked_proxy_path(raw.encode("latin-1"), HISTORY)
    assert why in str(caught.value)


def test_raw_bytes_beyond_ascii_are_refused() -> None:
    with pytest.raises(BadProxyPath, match="percent-encoded ASCII"):
        checked_proxy_path(WORKSPACE.encode() + "café".encode(), WORKSPACE)


def test_a_path_encoded_again_and_again_is_refused() -> None:
    nested = "x"
    for _ in range(6):
        nested = nested.replace("%", "%25") if "%" in nested else "%78"
    with pytest.raises(BadProxyPath, match="too many times"):
        checked_proxy_path(f"{WORKSPACE}{nested}".encode(), WORKSPACE)


def test_upstream_path_refuses_what_was_not_checked() -> None:
    for unchecked in ("a/../b", "./x", "a/\x00", "a\\b"):
        with pytest.raises(BadProxyPath):
            upstream_path(unchecked)


# Pieces of raw paths an attacker would combine, encoded and not.
PIECES = [
    "..",
    ".",
    "",
    "%2e",
    "%2E",
    "%2e%2e",
    ".%2e",
    "%252e",
    "%252E%252e",
    "%2f",
    "%2F",
    "%252f",
    "%5c",
    "%5C",
    "\\",
    "%00",
    "\x00",
    "%2500",
    "%0a",
    ";",
    "..;",
    "%3b",
    "%c0%ae",
    "%c0%af",
    "%e0%80%ae",
    "%e2%80%a4",
    "%e2%80%a5",
    "%ef%bc%8e",
    "%25",
    "%",
    "%zz",
    "%20",
    "static",
    "api",
    "v1",
    "applications",
    "history",
    "app-1",
    "jobs",
    "a.b",
    "...",
]
PLAIN = ["static", "history", "app-1", "jobs", "a.b", "...", "x%20y", "%25", "a;b", "caf%C3%A9"]
raw_paths = st.builds(
    lambda parts, separator: separator.join(parts),
    st.lists(
        st.one_of(
            st.sampled_from(PLAIN),
            st.sampled_from(PIECES),
            st.text(alphabet=".%2eE5cfF/\\;a", max_size=5),
        ),
        max_size=8,
    ),
    st.sampled_from(["/", "//", "/%2f"]),
)


def readings(path: str) -> list[str]:
    """What an upstream could make of the path it receives."""
    once = unquote(path)
    return [
        path,
        once,
        unquote(once),
        unicodedata.normalize("NFKC", once),
        once.replace("\\", "/"),
        "/".join(segment.partition(";")[0] for segment in once.split("/")),
    ]


@settings(max_examples=500, deadline=None)
@given(st.sampled_from([HISTORY, WORKSPACE]), raw_paths)
@example(HISTORY, "static/%2e%2e/api/v1/applications")
@example(HISTORY, "static/%252e%252e/%252e%252e/api/v1/applications")
@example(HISTORY, "static/..;/..;/..;/api/v1/applications")
@example(HISTORY, "static/%2e%2e%3b/%2e%2e%3b/x")
@example(WORKSPACE, "%e2%80%a5/%e2%80%a5/%e2%80%a5/x")
@example(WORKSPACE, "a%2f..%2f..%2f..%2fx")
@example(WORKSPACE, "a%5c..%5c..%5cx")
@example(WORKSPACE, "files/a%00b")
def test_what_is_forwarded_never_leaves_the_prefix(prefix: str, raw: str) -> None:
    try:
        remainder = checked_proxy_path((prefix + raw).encode("utf-8"), prefix)
    except BadProxyPath:
        return
    segments = remainder.split("/")
    assert not {".", ".."} & set(segments)
    assert "\x00" not in remainder and "\\" not in remainder
    forwarded = upstream_path(remainder)
    # The upstream receives exactly the segments that were checked...
    assert [unquote(segment) for segment in forwarded.split("/")] == segments
    # ...and whatever it decodes or normalises, it finds no step to take and stays under
    # the prefix (so an allow-list of the remainder's first segments holds upstream too).
    root = prefix.rstrip("/")
    for reading in readings(forwarded):
        assert not {".", ".."} & set(reading.split("/")), (raw, reading)
        normalised = posixpath.normpath(prefix + reading)
        assert normalised == root or normalised.startswith(prefix), (raw, reading)
