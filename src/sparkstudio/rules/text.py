"""Checks on text that every rule shares: control characters, path segments, echoes.

A consumer downstream may fold Unicode compatibility forms (``U+2024 ONE DOT LEADER`` is
``.`` under NFKC, ``U+FF0F`` is ``/``): a segment is judged in both forms, so no later
normalisation can turn a checked name into a step upwards or a separator.
"""

from __future__ import annotations

import re
import unicodedata

# C0 controls, DEL and C1 controls: never part of a name anyone means.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
DOT_SEGMENTS = frozenset({".", ".."})
SHOWN_LENGTH = 120


def shown(value: str) -> str:
    """``value`` quoted for an error message: escapes visible, long values cut short."""
    text = repr(value[:SHOWN_LENGTH])
    return text + "…" if len(value) > SHOWN_LENGTH else text


def control_character(text: str) -> str:
    """The first control character of ``text``, shown as an escape ('' when none)."""
    found = _CONTROL.search(text)
    return "" if found is None else repr(found.group())[1:-1]


def encodable(text: str) -> bool:
    """Whether ``text`` is valid Unicode (no lone surrogates smuggled in by a decoder)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def segment_problem(segment: str) -> str:
    """Why ``segment`` (one name between slashes, already decoded) is refused; '' if fine."""
    control = control_character(segment)
    if control:
        return f"a control character ({control})"
    if "\\" in segment:
        return "a backslash"
    if segment in DOT_SEGMENTS:
        return f"a '{segment}' segment"
    folded = unicodedata.normalize("NFKC", segment)
    if folded != segment:
        if folded in DOT_SEGMENTS:
            return f"a segment that Unicode normalisation turns into '{folded}'"
        if "/" in folded or "\\" in folded or control_character(folded):
            return "a character that Unicode normalisation turns into a separator"
    return ""
