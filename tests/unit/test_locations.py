"""Locations a user names: parsed, normalised, confined to the studio's roots."""

from __future__ import annotations

import posixpath
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sparkstudio.errors import Invalid
from sparkstudio.rules.locations import Location, confine, parse_location, resolve_within

FIELD = "notebook.uri"
STUDIO_A = ["file:///data/studios/st-a", "s3://lake/studios/st-a"]


def refusal(value: str, allowed: list[str] | None = None) -> str:
    """The message of the 422 for ``value``, checking that it names the field."""
    with pytest.raises(Invalid) as caught:
        confine(value, FIELD, allowed) if allowed is not None else parse_location(value, FIELD)
    assert caught.value.status == 422
    assert caught.value.fields[0]["field"] == FIELD
    return str(caught.value.fields[0]["message"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("file:///a/b", Location("file", "", "/a/b")),
        ("/a/b", Location("file", "", "/a/b")),
        ("FILE:///a/b", Location("file", "", "/a/b")),
        ("/a//b///c/", Location("file", "", "/a/b/c")),
        ("file:////a/b", Location("file", "", "/a/b")),
        ("file:///", Location("file", "", "/")),
        ("/a/my%20notebook.ipynb", Location("file", "", "/a/my notebook.ipynb")),
        ("/a/caf%C3%A9", Location("file", "", "/a/café")),
        ("s3://lake/studios/st-a/x.parquet", Location("s3", "lake", "studios/st-a/x.parquet")),
        ("s3a://lake/k/", Location("s3", "lake", "k")),
        ("s3n://lake//k//v", Location("s3", "lake", "k/v")),
        ("s3://lake", Location("s3", "lake", "")),
        ("s3://lake/", Location("s3", "lake", "")),
        ("s3://my.lake-1/k", Location("s3", "my.lake-1", "k")),
    ],
)
def test_accepted_locations_are_normalised(value: str, expected: Location) -> None:
    assert parse_location(value, FIELD) == expected


def test_urls_name_the_decoded_place() -> None:
    assert parse_location("/a/b%20c", FIELD).url == "file:///a/b c"
    assert parse_location("s3a://lake/k/", FIELD).url == "s3://lake/k"
    assert parse_location("s3://lake", FIELD).url == "s3://lake"
    assert parse_location("file:///", FIELD).url == "file:///"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "is empty"),
        ("relative/path", "is not absolute"),
        ("http://127.0.0.1:5432/x", "scheme 'http:'"),
        ("hdfs://namenode/x", "scheme 'hdfs:'"),
        ("local:/opt/x.jar", "scheme 'local:'"),
        ("file:/a/b", "file://"),
        ("file://host/x", "names a host"),
        ("file://localhost/x", "names a host"),
        ("s3://key:secret@lake/x", "user information"),
        ("s3://lake:9000/x", "has a port"),
        ("s3://Lake/x", "invalid bucket name"),
        ("s3://la/x", "invalid bucket name"),
        ("s3://-lake/x", "invalid bucket name"),
        ("s3://la..ke/x", "invalid bucket name"),
        ("s3://192.168.1.10/x", "invalid bucket name"),
        ("s3://xn--lake/x", "invalid bucket name"),
        ("s3:///x", "names no bucket"),
        ("/a/b?version=2", "query"),
        ("/a/b#frag", "fragment"),
        ("/a/../b", "'..' segment"),
        ("/a/./b", "'.' segment"),
        ("/a/b/..", "'..' segment"),
        ("s3://lake/a/../b", "'..' segment"),
        ("/a/%2e%2e/b", "'..' segment"),
        ("/a/%2E./b", "'..' segment"),
        ("/a/.%2e", "'..' segment"),
        ("/a/%252e%252e/b", "percent-encoded twice"),
        ("/a/%25", "percent-encoded twice"),
        ("/a/%zz", "percent-encoded twice"),
        ("/a/%c0%ae%c0%ae/b", "not UTF-8"),
        ("/a/%ff", "not UTF-8"),
        ("/a/b\x00c", "control character"),
        ("/a/%00", "encoded control character"),
        ("/a/%0a", "encoded control character"),
        ("/a/\u0085", "control character"),
        ("/a\\..\\b", "backslash"),
        ("/a/%5c..%5cb", "encoded '?', '#' or backslash"),
        ("/a/%3fx", "encoded '?'"),
        ("/a/%23x", "encoded '?'"),
        ("/a/\u2025/b", "Unicode normalisation turns into '..'"),
        ("/a/\u2024\u2024/b", "Unicode normalisation turns into '..'"),
        ("/a/\uff0e\uff0e/b", "Unicode normalisation turns into '..'"),
        ("/a/%e2%80%a5/b", "Unicode normalisation turns into '..'"),
        ("/a/x\uff0fy", "separator"),
        (" /a", "spaces around it"),
        ("/a\ud800", "not valid Unicode"),
        ("/" + "a" * 5000, "longer than"),
    ],
)
def test_refused_locations_say_why(value: str, why: str) -> None:
    message = refusal(value)
    assert why in message
    assert "a location is an absolute path, file:///path or s3://bucket/key" in message


def test_within_is_on_segment_boundaries() -> None:
    root = parse_location("/data/studios/st-a", FIELD)
    assert parse_location("/data/studios/st-a", FIELD).within(root)
    assert parse_location("/data/studios/st-a/ws/x", FIELD).within(root)
    assert not parse_location("/data/studios/st-ab/x", FIELD).within(root)
    assert not parse_location("/data/studios", FIELD).within(root)
    assert not parse_location("s3://lake/data/studios/st-a", FIELD).within(root)
    bucket = parse_location("s3://lake", FIELD)
    assert parse_location("s3a://lake/any/key", FIELD).within(bucket)
    assert not parse_location("s3://lake2/any", FIELD).within(bucket)
    assert parse_location("/anything", FIELD).within(parse_location("/", FIELD))


def test_relative_to_gives_the_segments_below_the_root() -> None:
    root = parse_location("s3://lake/studios/st-a", FIELD)
    assert parse_location("s3://lake/studios/st-a/ws/nb.ipynb", FIELD).relative_to(root) == (
        "ws/nb.ipynb"
    )
    assert root.relative_to(root) == ""
    with pytest.raises(ValueError, match="not under"):
        parse_location("s3://lake/studios/st-b", FIELD).relative_to(root)


@pytest.mark.parametrize(
    "value",
    [
        # The attacks of a member of studio A on studio B's places and the host's files.
        "file:///data/studios/st-b/ws-1/notebook.ipynb",
        "/data/studios/st-b/ws-1/notebook.ipynb",
        "file:///data/studios/st-a/../st-b/ws-1/notebook.ipynb",
        "file:///data/studios/st-a/%2e%2e/st-b/out",
        "file:///data/studios/st-a/%252e%252e/st-b/out",
        "s3://lake/studios/st-b/output",
        "s3a://lake/studios/st-a/../st-b",
        "s3://lake/studios",
        "file:///etc/passwd",
        "/root/.sparkstudio/sparkstudio.db",
        "file:///data/studios/st-ab/x",
        "s3://lake2/studios/st-a/x",
    ],
)
def test_confine_refuses_places_outside_the_studio(value: str) -> None:
    refusal(value, STUDIO_A)


def test_confine_lists_the_allowed_roots() -> None:
    message = refusal("/data/studios/st-b/x", STUDIO_A)
    assert "must be under file:///data/studios/st-a, s3://lake/studios/st-a" in message


def test_confine_with_no_roots_allows_nothing() -> None:
    assert "no location is allowed" in refusal("/data/studios/st-a/x", [])


def test_confine_returns_the_checked_place() -> None:
    assert confine("s3a://lake/studios/st-a//out/", FIELD, STUDIO_A) == Location(
        "s3", "lake", "studios/st-a/out"
    )
    assert confine("/data/studios/st-a", FIELD, STUDIO_A).url == "file:///data/studios/st-a"


def test_a_root_that_is_not_a_location_is_the_platforms_error() -> None:
    with pytest.raises(ValueError, match="allowed root"):
        confine("/x", FIELD, ["relative/root"])


def test_resolve_within_follows_links_that_stay_inside(tmp_path: Path) -> None:
    root = tmp_path / "studio"
    (root / "ws").mkdir(parents=True)
    (root / "ws" / "nb.ipynb").write_text("{}")
    (root / "alias").symlink_to(root / "ws")
    studio = parse_location(str(root), FIELD)
    resolved = resolve_within(parse_location(f"{root}/alias/nb.ipynb", FIELD), studio)
    assert resolved == (root / "ws" / "nb.ipynb").resolve()
    # A root reached through a link of the platform's own is fine.
    (tmp_path / "link-to-studio").symlink_to(root)
    linked = parse_location(str(tmp_path / "link-to-studio"), FIELD)
    assert resolve_within(parse_location(f"{linked.path}/ws/nb.ipynb", FIELD), linked) == resolved


def test_resolve_within_refuses_a_link_that_points_out(tmp_path: Path) -> None:
    root = tmp_path / "st-a"
    other = tmp_path / "st-b"
    root.mkdir()
    other.mkdir()
    (other / "secret.ipynb").write_text("{}")
    (root / "escape").symlink_to(other)
    (root / "file-escape.ipynb").symlink_to(other / "secret.ipynb")
    studio = parse_location(str(root), FIELD)
    for planted in ("escape/secret.ipynb", "file-escape.ipynb", "escape"):
        with pytest.raises(PermissionError, match="symbolic link"):
            resolve_within(parse_location(f"{root}/{planted}", FIELD), studio)


def test_resolve_within_only_takes_places_under_the_root() -> None:
    with pytest.raises(PermissionError, match="not under"):
        resolve_within(parse_location("/data/b", FIELD), parse_location("/data/a", FIELD))
    with pytest.raises(ValueError, match="local path"):
        resolve_within(parse_location("s3://lake/a", FIELD), parse_location("s3://lake", FIELD))


# Segments an attacker would try, in every spelling a decoder or normaliser could read.
ATTACK_SEGMENTS = [
    "..",
    ".",
    "",
    "%2e%2e",
    "%2E.",
    ".%2e",
    "%2e",
    "%252e%252e",
    "%25252e%25252e",
    "%2f..",
    "..%2f",
    "%2F",
    "%5c..",
    "\x00",
    "%00",
    "\\",
    "..\\..",
    "\u2024",
    "\u2024\u2024",
    "\u2025",
    "\uff0e\uff0e",
    "%e2%80%a5",
    "%ef%bc%8e%ef%bc%8e",
    "%c0%ae%c0%ae",
    "%c0%af",
    "..;",
    "?",
    "#",
    "%3f",
    "%23",
    "%",
    "%zz",
    " ",
    "~",
    "\ud800",
    "st-a",
    "st-b",
    "studios",
    "data",
    "lake",
    "x.ipynb",
]
PREFIXES = [
    "",
    "/",
    "//",
    "file:",
    "file://",
    "file:///",
    "file:////",
    "FILE:///",
    "file://localhost/",
    "s3://lake/",
    "s3a://lake/",
    "S3N://lake",
    "s3://lake",
    "s3://other/",
    "s3://user@lake/",
    "/data/studios/st-a/",
    "file:///data/studios/st-a/",
    "s3://lake/studios/st-a/",
    "/data/studios/st-ab/",
]
ROOT_PREFIXES = ["/data/studios/st-a/", "file:///data/studios/st-a/", "s3a://lake/studios/st-a/"]
PLAIN_SEGMENTS = ["ws-1", "out", "x.ipynb", "a b", "caf%C3%A9", "st-a", "...", "..a", ".hidden"]
segments = st.one_of(
    st.sampled_from(PLAIN_SEGMENTS),
    st.sampled_from(PLAIN_SEGMENTS),
    st.sampled_from(ATTACK_SEGMENTS),
    st.text(alphabet="a.%2eE5cf/\\\x00-~ ", max_size=6),
)
values = st.builds(
    lambda prefix, parts, separator: prefix + separator.join(parts),
    st.one_of(st.sampled_from(PREFIXES), st.sampled_from(ROOT_PREFIXES)),
    st.lists(segments, max_size=6),
    st.sampled_from(["/", "//"]),
)


def readings(path: str) -> list[str]:
    """What a consumer downstream could make of a checked path."""
    return [
        path,
        unquote(path),
        unquote(unquote(path)),
        unicodedata.normalize("NFKC", path),
        path.replace("\\", "/"),
    ]


@settings(max_examples=600, deadline=None)
@given(values)
@example("file:///data/studios/st-a/%2e%2e/st-b/ws-1/notebook.ipynb")
@example("/data/studios/st-a/%252e%252e/st-b/out")
@example("/data/studios/st-a/\u2025/st-b/out")
@example("/data/studios/st-a/%e2%80%a5/st-b/out")
@example("s3a://lake/studios/st-a/../st-b/out")
@example("file:///data/studios/st-b/ws-1/repo")
@example("file:///data/studios/st-a/x\\..\\..\\st-b")
def test_confine_never_returns_a_place_outside_the_roots(value: str) -> None:
    try:
        location = confine(value, FIELD, STUDIO_A)
    except Invalid as refused:
        named = refused.fields[0]["field"]
    else:
        named = ""
    if named:
        assert named == FIELD
        return
    roots = {"file": ("", "/data/studios/st-a"), "s3": ("lake", "/studios/st-a")}
    bucket, root = roots[location.scheme]
    assert location.bucket == bucket
    for reading in readings(location.path):
        normalised = posixpath.normpath("/" + reading.lstrip("/"))
        assert normalised == root or normalised.startswith(root + "/"), (value, reading)
    assert "%" not in location.url and "\x00" not in location.url
    # What was checked is what is used: parsing the answer again gives the same place.
    assert parse_location(location.url, FIELD) == location
