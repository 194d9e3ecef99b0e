"""Locations a user names, parsed, normalised and confined to what their studio owns.

What is checked is what is used: percent-escapes are decoded once, and the decoded form is
both what the checks see and what the caller gets back (``Location.path``, ``.url``). What a
second decoder, a URL parser or a Unicode normaliser downstream could read differently (a
``%`` left after decoding, ``?``, ``#``, ``\\``, ``.`` or ``..`` segments, control
characters) is refused rather than repaired: the platform never guesses what was meant.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote

from sparkstudio.errors import Invalid
from sparkstudio.rules.text import control_character, encodable, segment_problem, shown

Scheme = Literal["file", "s3"]
# s3a:// and s3n:// are Hadoop's names for the same buckets.
SCHEMES: dict[str, Scheme] = {"file": "file", "s3": "s3", "s3a": "s3", "s3n": "s3"}
SHAPES = "an absolute path, file:///path or s3://bucket/key"
MAX_LENGTH = 4096  # PATH_MAX on Linux; S3 keys are shorter still
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_IPV4_SHAPED = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


@dataclass(frozen=True)
class Location:
    """A checked place in a file system or a bucket, decoded and normalised."""

    scheme: Scheme
    bucket: str  # "" for file
    path: str  # file: absolute, normalised ("/a/b"); s3: the key, no leading slash

    @property
    def url(self) -> str:
        """``file:///a/b`` or ``s3://bucket/key``, not percent-encoded: it never holds a '%'."""
        if self.scheme == "file":
            return f"file://{self.path}"
        return f"s3://{self.bucket}/{self.path}" if self.path else f"s3://{self.bucket}"

    def within(self, root: Location) -> bool:
        """Equal to ``root`` or under it, on segment boundaries (``/a/bc`` is not in ``/a/b``)."""
        if (self.scheme, self.bucket) != (root.scheme, root.bucket):
            return False
        if root.path in ("", "/"):  # a bucket root, or the whole file system
            return True
        return self.path == root.path or self.path.startswith(root.path + "/")

    def relative_to(self, root: Location) -> str:
        """The ``/``-separated segments below ``root`` ('' for the root itself)."""
        if not self.within(root):
            raise ValueError(f"{self.url} is not under {root.url}")
        return self.path[len(root.path) :].lstrip("/")


def parse_location(value: str, field: str) -> Location:
    """``value`` as a Location, or a 422 naming ``field`` and saying what is wrong."""

    def refused(why: str) -> Invalid:
        return Invalid.field(field, f"{why} (got {shown(value)}); a location is {SHAPES}")

    if not value:
        raise refused("is empty")
    if len(value) > MAX_LENGTH:
        raise refused(f"is longer than {MAX_LENGTH} characters")
    control = control_character(value)
    if control:
        raise refused(f"contains a control character ({control})")
    if value != value.strip():
        raise refused("has spaces around it")
    if not encodable(value):
        raise refused("is not valid Unicode")
    if "?" in value or "#" in value:
        raise refused("has a query or a fragment ('?' or '#')")
    if "\\" in value:
        raise refused("contains a backslash")
    scheme, bucket, raw_path = _split(value, refused)
    try:
        decoded = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        raise refused("has percent-escapes that are not UTF-8 (overlong or broken)") from None
    problem = _decoded_problem(decoded)
    if problem:
        raise refused(problem)
    segments = [segment for segment in decoded.split("/") if segment]  # '//' and a trailing '/'
    for segment in segments:
        problem = segment_problem(segment)
        if problem:
            raise refused(f"has {problem}; name the place itself")
    path = "/".join(segments)
    if path != path.rstrip():
        # '%20' at the end decodes to a space: the address would not read back as itself.
        raise refused("ends in a space once decoded")
    return Location(scheme, bucket, "/" + path if scheme == "file" else path)


def confine(value: str, field: str, allowed: Sequence[str]) -> Location:
    """``value`` parsed, and only if it lies within one of the ``allowed`` roots."""
    roots = [_root(root) for root in allowed]
    location = parse_location(value, field)
    if any(location.within(root) for root in roots):
        return location
    if not roots:
        raise Invalid.field(field, f"no location is allowed here (got {shown(value)})")
    where = ", ".join(root.url for root in roots)
    raise Invalid.field(field, f"must be under {where} (got {shown(value)})")


def resolve_within(location: Location, root: Location) -> Path:
    """The real local path of ``location``, which must stay inside ``root`` once symbolic
    links are followed (a link in the studio's storage that points out is refused).

    Raises PermissionError when it leads out. The answer is true when it is given: to read
    or write without a race with a link swapped in later, use ``storage.confined``.
    """
    if location.scheme != "file" or root.scheme != "file":
        raise ValueError("only file locations have a local path")
    if not location.within(root):
        raise PermissionError(f"{location.url} is not under {root.url}")
    real_root = os.path.realpath(root.path)
    real = os.path.realpath(location.path)
    if real != real_root and not real.startswith(real_root.rstrip("/") + "/"):
        raise PermissionError(f"{location.url} leads outside {root.url} through a symbolic link")
    return Path(real)


def _split(value: str, refused: Callable[[str], Invalid]) -> tuple[Scheme, str, str]:
    """The scheme, the bucket ('' for files) and the still-encoded path of ``value``."""
    if value.startswith("/"):
        return "file", "", value
    match = _SCHEME.match(value)
    if match is None:
        raise refused("is not absolute")
    given = match.group(1).lower()
    scheme = SCHEMES.get(given)
    if scheme is None:
        raise refused(f"uses the scheme '{given}:', which is not allowed")
    rest = value[match.end() :]
    if not rest.startswith("//"):
        raise refused(f"is not a URL: write {given}://…")
    authority, slash, path = rest[2:].partition("/")
    if scheme == "file":
        if authority:
            raise refused("names a host; a file location is file:///path")
        return scheme, "", slash + path
    if "@" in authority:
        raise refused("has user information (user@): credentials never go in a location")
    if ":" in authority:
        raise refused("has a port")
    problem = bucket_problem(authority)
    if problem:
        raise refused(problem)
    return scheme, authority, slash + path


def bucket_problem(name: str) -> str:
    """Why ``name`` is not a valid S3 bucket name ('' when it is)."""
    if not name:
        return "names no bucket: s3://bucket/key"
    if not _BUCKET.match(name):
        return (
            f"has an invalid bucket name {shown(name)}: 3 to 63 lowercase letters, digits, "
            "'.' and '-', starting and ending with a letter or a digit"
        )
    if ".." in name or _IPV4_SHAPED.match(name):
        return f"has an invalid bucket name {shown(name)}: no '..' and not an IP address"
    if name.startswith(_RESERVED_BUCKET_PREFIXES) or name.endswith(_RESERVED_BUCKET_SUFFIXES):
        return f"has an invalid bucket name {shown(name)}: a prefix or suffix S3 reserves"
    return ""


def _decoded_problem(decoded: str) -> str:
    control = control_character(decoded)
    if control:
        return f"has an encoded control character ({control})"
    if "%" in decoded:
        return "is percent-encoded twice (a '%' is left once decoded)"
    if "?" in decoded or "#" in decoded or "\\" in decoded:
        return "has an encoded '?', '#' or backslash"
    return ""


def _root(value: str) -> Location:
    """An allowed root, which the platform (not the user) chose."""
    try:
        return parse_location(value, "allowed root")
    except Invalid as error:
        raise ValueError(f"the allowed root {value!r} is not a location: {error.message}") from None
