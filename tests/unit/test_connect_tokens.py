"""Per-user Spark Connect tokens: what verify accepts, and the many things it refuses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sparkstudio.connect_front.tokens import (
    ConnectClaims,
    InvalidConnectToken,
    mint,
    verify,
)

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
NOW = 1_800_000_000.0
BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
CLAIMS = ConnectClaims("alice", "usr-1", "cl-42", int(NOW) + 600)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def payload_of(token: str) -> dict[str, object]:
    encoded = token.split(".")[1]
    document: dict[str, object] = json.loads(base64.urlsafe_b64decode(encoded + "=="))
    return document


def test_a_minted_token_verifies_to_its_claims() -> None:
    token = mint(KEY, CLAIMS)
    assert token.startswith("ssc1.")
    assert verify(KEY, token, now=NOW) == CLAIMS


def test_a_platform_principal_has_no_user_id() -> None:
    claims = ConnectClaims("sparkstudio-jobs", None, "app-7", int(NOW) + 60)
    assert verify(KEY, mint(KEY, claims), now=NOW) == claims


def test_a_token_signed_with_another_key_is_refused() -> None:
    with pytest.raises(InvalidConnectToken, match="signature does not match"):
        verify(OTHER_KEY, mint(KEY, CLAIMS), now=NOW)


def test_changed_claims_with_the_old_signature_are_refused() -> None:
    prefix, _, signature = mint(KEY, CLAIMS).split(".")
    document = payload_of(mint(KEY, CLAIMS)) | {"sub": "admin"}
    forged = f"{prefix}.{b64(json.dumps(document).encode())}.{signature}"
    with pytest.raises(InvalidConnectToken, match="signature does not match"):
        verify(KEY, forged, now=NOW)


def test_a_flipped_signature_bit_is_refused() -> None:
    prefix, payload, signature = mint(KEY, CLAIMS).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "="))
    raw[0] ^= 1
    with pytest.raises(InvalidConnectToken, match="signature does not match"):
        verify(KEY, f"{prefix}.{payload}.{b64(bytes(raw))}", now=NOW)


def test_an_expired_token_is_refused_unless_expiry_is_not_checked() -> None:
    token = mint(KEY, CLAIMS)
    with pytest.raises(InvalidConnectToken, match="expired at"):
        verify(KEY, token, now=CLAIMS.expires_at)  # the expiry second itself is too late
    assert verify(KEY, token, now=CLAIMS.expires_at + 3600, check_expiry=False) == CLAIMS


def test_check_expiry_false_still_checks_the_signature() -> None:
    with pytest.raises(InvalidConnectToken, match="signature"):
        verify(OTHER_KEY, mint(KEY, CLAIMS), now=NOW, check_expiry=False)


def _signed(payload: bytes, key: bytes = KEY) -> str:
    """A correctly signed token around an arbitrary payload (as if minting had a bug)."""
    signed = f"ssc1.{b64(payload)}"
    return f"{signed}.{b64(hmac.new(key, signed.encode(), hashlib.sha256).digest())}"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "empty"),
        ("sst.abc.def", r"expected ssc1"),
        ("ssc1.abc", r"expected ssc1"),
        ("ssc1.a.b.c", r"expected ssc1"),
        ("ssc2.abc.def", r"expected ssc1"),
        ("ssc1.abc.de+f", "not base64url"),
        ("ssc1.abc.def=", "not base64url"),
        ("ssc1.abc. def", "not base64url"),
        ("ssc1.abc.", "not base64url"),
        ("ssc1.abc.AAAA", "signature length"),
        ("ssc1." + "a" * 5000 + ".b", "too long"),
    ],
)
def test_malformed_tokens_are_refused_with_a_clear_message(token: str, message: str) -> None:
    with pytest.raises(InvalidConnectToken, match=message):
        verify(KEY, token, now=NOW)


def test_a_second_spelling_of_the_same_signature_is_refused() -> None:
    prefix, payload, signature = mint(KEY, CLAIMS).split(".")
    # 32 bytes take 43 characters, the last of which has 2 unused bits: setting one
    # decodes to the very same signature, which must still not be accepted.
    last = BASE64URL_ALPHABET.index(signature[-1])
    assert last % 4 == 0
    twin = signature[:-1] + BASE64URL_ALPHABET[last + 1]
    assert base64.urlsafe_b64decode(twin + "=") == base64.urlsafe_b64decode(signature + "=")
    with pytest.raises(InvalidConnectToken, match="not canonical"):
        verify(KEY, f"{prefix}.{payload}.{twin}", now=NOW)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", r"\(payload\)"),
        (b"\xff\xfe", r"\(payload\)"),
        (b"[1, 2]", r"\(claims\)"),
        (b'{"sub": "a", "uid": null, "rid": "r"}', r"\(claims\)"),
        (b'{"sub": "a", "uid": null, "rid": "r", "exp": 1, "adm": true}', r"\(claims\)"),
        (b'{"sub": "", "uid": null, "rid": "r", "exp": 1}', "subject"),
        (b'{"sub": 7, "uid": null, "rid": "r", "exp": 1}', "subject"),
        (b'{"sub": "a", "uid": null, "rid": "", "exp": 1}', "resource_id"),
        (b'{"sub": "a", "uid": "", "rid": "r", "exp": 1}', "user_id"),
        (b'{"sub": "a", "uid": null, "rid": "r", "exp": "1"}', "expires_at"),
        (b'{"sub": "a", "uid": null, "rid": "r", "exp": 1.5}', "expires_at"),
        (b'{"sub": "a", "uid": null, "rid": "r", "exp": true}', "expires_at"),
    ],
)
def test_signed_but_malformed_claims_are_refused(payload: bytes, message: str) -> None:
    with pytest.raises(InvalidConnectToken, match=message):
        verify(KEY, _signed(payload), now=0, check_expiry=False)


def test_minting_refuses_a_short_key_and_empty_claims() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        mint(b"short", CLAIMS)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        verify(b"", mint(KEY, CLAIMS), now=NOW)
    with pytest.raises(ValueError, match="subject"):
        mint(KEY, ConnectClaims("", None, "cl-1", 1))
    with pytest.raises(ValueError, match="resource_id"):
        mint(KEY, ConnectClaims("a", None, "", 1))


claims_strategy = st.builds(
    ConnectClaims,
    subject=st.text(min_size=1, max_size=40),
    user_id=st.none() | st.text(min_size=1, max_size=40),
    resource_id=st.text(min_size=1, max_size=40),
    expires_at=st.integers(min_value=0, max_value=2**40),
)


@given(claims=claims_strategy)
def test_any_claims_round_trip(claims: ConnectClaims) -> None:
    assert verify(KEY, mint(KEY, claims), now=0, check_expiry=False) == claims


@given(token=st.text(max_size=300))
def test_verify_never_accepts_arbitrary_text(token: str) -> None:
    with pytest.raises(InvalidConnectToken):
        verify(KEY, token, now=0, check_expiry=False)


@given(claims=claims_strategy, data=st.data())
def test_verify_never_accepts_a_changed_token(claims: ConnectClaims, data: st.DataObject) -> None:
    token = mint(KEY, claims)
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.characters(codec="ascii").filter(lambda c: c != token[position]))
    changed = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(InvalidConnectToken):
        verify(KEY, changed, now=0, check_expiry=False)


@given(claims=claims_strategy)
def test_verify_never_accepts_a_token_minted_with_another_key(claims: ConnectClaims) -> None:
    with pytest.raises(InvalidConnectToken):
        verify(KEY, mint(OTHER_KEY, claims), now=0, check_expiry=False)


@given(parts=st.lists(st.text(alphabet=st.sampled_from("AQgw-_09azAZ"), max_size=60), max_size=4))
def test_verify_never_accepts_well_shaped_guesses(parts: list[str]) -> None:
    with pytest.raises(InvalidConnectToken):
        verify(KEY, ".".join(["ssc1", *parts]), now=0, check_expiry=False)
