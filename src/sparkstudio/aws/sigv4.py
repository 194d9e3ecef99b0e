"""Verify AWS Signature Version 4 (``Authorization: AWS4-HMAC-SHA256 ...``) on a request.

An AWS SDK signs the request it sends with an access key id and its secret; here the
pair is a sparkstudio API key. :func:`verify` recomputes the signature from the request
as received and answers who signed it, or raises a :class:`SignatureError` carrying the
HTTP status, the AWS error code and the message an AWS service gives in that case;
:func:`error_response` renders it the way REST-JSON services do.

The canonical request is built by botocore's own ``SigV4Auth`` (the signer of boto3 and
the AWS CLI), restricted to the headers the client listed in ``SignedHeaders`` and to
the client's timestamp, so that both sides canonicalize paths, queries and header values
with the same code. Three inputs are prepared here, as the SigV4 rules require:

* the path is the one sent on the wire (the ASGI ``raw_path``, still percent-encoded):
  services other than S3 URI-encode that path once more in the canonical request, so a
  decoded path would not give the client's signature for e.g. ``/tags/arn%3Aaws%3A...``;
* the query is decoded and re-encoded parameter by parameter (RFC 3986 unreserved
  characters kept), so a client's choice of escapes on the wire does not matter;
* the payload hash is always the SHA-256 of the body received: this JSON API does not
  accept ``UNSIGNED-PAYLOAD``, and an ``x-amz-content-sha256`` header that differs from
  the body is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import unquote_to_bytes

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import ReadOnlyCredentials
from starlette.responses import JSONResponse

from sparkstudio.errors import StudioError

ALGORITHM: Final = "AWS4-HMAC-SHA256"
TERMINATOR: Final = "aws4_request"
TIMESTAMP_FORMAT: Final = "%Y%m%dT%H%M%SZ"
MAX_CLOCK_SKEW: Final = timedelta(minutes=15)

MISSING_AUTHENTICATION_TOKEN: Final = "MissingAuthenticationTokenException"  # noqa: S105
UNRECOGNIZED_CLIENT: Final = "UnrecognizedClientException"
INVALID_SIGNATURE: Final = "InvalidSignatureException"
INCOMPLETE_SIGNATURE: Final = "IncompleteSignatureException"

MISMATCH_MESSAGE: Final = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)

_TIMESTAMP = re.compile(r"\d{8}T\d{6}Z")
_COMPONENT_SEPARATOR = re.compile(r"\s*,\s*|\s+")
_REQUIRED_COMPONENTS = ("Credential", "Signature", "SignedHeaders")


class SignatureError(StudioError):
    """A request refused by SigV4 authentication; ``reason`` is the AWS error code."""

    status = 403
    default_reason = INVALID_SIGNATURE

    @property
    def code(self) -> str:
        return self.reason


def _incomplete(message: str) -> SignatureError:
    return SignatureError(message, reason=INCOMPLETE_SIGNATURE)


@dataclass(frozen=True)
class SignedRequest:
    """A request as received: ``raw_path`` still percent-encoded, header names any case."""

    method: str
    raw_path: bytes
    query_string: bytes
    headers: Sequence[tuple[bytes, bytes]]
    body: bytes

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any], body: bytes) -> SignedRequest:
        """From an ASGI HTTP scope (the full path, mount prefixes included) and its body."""
        # Without ``raw_path`` (a server that does not give it) only a path that needed no
        # percent-encoding verifies.
        raw_path = scope.get("raw_path") or str(scope["path"]).encode("utf-8")
        return cls(
            method=str(scope["method"]),
            raw_path=bytes(raw_path),
            query_string=bytes(scope.get("query_string", b"")),
            headers=list(scope["headers"]),
            body=body,
        )

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower().encode("latin-1")
        return [value.decode("latin-1") for key, value in self.headers if key.lower() == wanted]

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return ",".join(values) if values else None


@dataclass(frozen=True)
class Verified:
    """Who signed the request, for which region and service."""

    access_key_id: str
    region: str
    service: str


@dataclass(frozen=True)
class _Authorization:
    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def _parse_authorization(value: str, has_date: bool) -> _Authorization:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm.startswith("AWS4-") and algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm}'")
    components: dict[str, str] = {}
    if algorithm == ALGORITHM:
        for pair in _COMPONENT_SEPARATOR.split(rest.strip()):
            if not pair:
                continue
            key, equals, component = pair.partition("=")
            if not equals:
                raise _incomplete(
                    f"'{pair}' not a valid key=value pair (missing equal-sign) "
                    "in Authorization header."
                )
            components[key] = component
    problems = [
        f"Authorization header requires '{name}' parameter."
        for name in _REQUIRED_COMPONENTS
        if not components.get(name)
    ]
    if not has_date:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if problems:
        raise _incomplete(" ".join(problems))
    credential = components["Credential"]
    scope = credential.split("/")
    if len(scope) != 5:
        raise _incomplete(
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{credential}'"
        )
    access_key_id, date, region, service, terminator = scope
    return _Authorization(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        terminator=terminator,
        signed_headers=tuple(
            name.strip().lower() for name in components["SignedHeaders"].split(";")
        ),
        signature=components["Signature"],
    )


def _parse_timestamp(value: str) -> datetime:
    try:
        if not _TIMESTAMP.fullmatch(value):
            raise ValueError(value)
        return datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise _incomplete(
            f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        ) from None


def _check_scope(auth: _Authorization, amz_date: str, service: str) -> None:
    problems = []
    if not auth.region:
        problems.append("Credential should be scoped to a valid region, not ''.")
    if auth.service != service:
        problems.append(f"Credential should be scoped to correct service: '{service}'.")
    if auth.terminator != TERMINATOR:
        problems.append(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{auth.terminator}'."
        )
    if auth.date != amz_date[:8]:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{auth.date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    if problems:
        raise SignatureError(" ".join(problems))


def _check_clock(signed_at: datetime, now: datetime) -> None:
    amz_date, current = _format(signed_at), _format(now)
    if signed_at < now - MAX_CLOCK_SKEW:
        raise SignatureError(
            f"Signature expired: {amz_date} is now earlier than "
            f"{_format(now - MAX_CLOCK_SKEW)} ({current} - 15 min.)"
        )
    if signed_at > now + MAX_CLOCK_SKEW:
        raise SignatureError(
            f"Signature not yet current: {amz_date} is still later than "
            f"{_format(now + MAX_CLOCK_SKEW)} ({current} + 15 min.)"
        )


def _canonical_query(query_string: bytes) -> list[tuple[str, str]]:
    # Decoded here; botocore re-encodes each key and value and sorts the pairs.
    params = []
    for pair in query_string.split(b"&"):
        if pair:
            key, _, value = pair.partition(b"=")
            params.append((_decode(key), _decode(value)))
    return params


def _decode(component: bytes) -> str:
    # '+' stays a plus sign (RFC 3986); an undecodable byte keeps the signature from matching.
    return unquote_to_bytes(component).decode("utf-8", "replace")


class _ListedHeadersSigner(SigV4Auth):  # type: ignore[misc]
    """botocore's SigV4 signer over exactly the headers the client listed and a known payload
    hash (botocore otherwise picks headers itself and hashes ``request.body``)."""

    def __init__(
        self,
        credentials: ReadOnlyCredentials,
        service: str,
        region: str,
        headers: Iterable[tuple[str, str]],
        payload_hash: str,
    ) -> None:
        super().__init__(credentials, service, region)
        self._listed_headers = list(headers)
        self._payload_hash = payload_hash

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        selected = HTTPHeaders()
        for name, value in self._listed_headers:
            selected[name] = value  # adds: a repeated header keeps all its values
        return selected

    def payload(self, request: AWSRequest) -> str:
        return self._payload_hash


def expected_signature(
    request: SignedRequest,
    *,
    secret: str,
    access_key_id: str,
    amz_date: str,
    region: str,
    service: str,
    signed_headers: Iterable[str],
) -> str:
    """The hex signature of ``request`` over ``signed_headers`` (lowercase names)."""
    listed = [(name, value) for name in signed_headers for value in request.header_values(name)]
    path = request.raw_path.decode("utf-8", "replace")
    aws_request = AWSRequest(
        method=request.method,
        url=f"http://sigv4.invalid{path}",
        params=_canonical_query(request.query_string),
    )
    aws_request.context["timestamp"] = amz_date
    signer = _ListedHeadersSigner(
        ReadOnlyCredentials(access_key_id, secret, None),
        service,
        region,
        listed,
        hashlib.sha256(request.body).hexdigest(),
    )
    canonical_request = str(signer.canonical_request(aws_request))
    string_to_sign = str(signer.string_to_sign(aws_request, canonical_request))
    return str(signer.signature(string_to_sign, aws_request))


def verify(
    request: SignedRequest,
    *,
    service: str,
    lookup_secret: Callable[[str], str | None],
    now: Callable[[], datetime] = _utcnow,
) -> Verified:
    """Check the SigV4 ``Authorization`` header of ``request`` for ``service``.

    ``lookup_secret`` answers the secret of an access key id, or None when the key is
    unknown. Raises :class:`SignatureError` when the request is refused.
    """
    authorization = request.header("authorization")
    if not authorization:
        raise SignatureError("Missing Authentication Token", reason=MISSING_AUTHENTICATION_TOKEN)
    amz_date = request.header("x-amz-date") or ""
    auth = _parse_authorization(authorization, has_date=bool(amz_date))
    signed_at = _parse_timestamp(amz_date)
    if "host" not in auth.signed_headers:
        raise _incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    if "x-amz-date" not in auth.signed_headers:
        raise _incomplete("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
    _check_scope(auth, amz_date, service)
    _check_clock(signed_at, now())

    secret = lookup_secret(auth.access_key_id)
    if secret is None:
        raise SignatureError(
            "The security token included in the request is invalid.", reason=UNRECOGNIZED_CLIENT
        )
    content_sha256 = request.header("x-amz-content-sha256")
    if content_sha256 is not None and content_sha256.strip().lower() != (
        hashlib.sha256(request.body).hexdigest()
    ):
        raise SignatureError(MISMATCH_MESSAGE)
    expected = expected_signature(
        request,
        secret=secret,
        access_key_id=auth.access_key_id,
        amz_date=amz_date,
        region=auth.region,
        service=auth.service,
        signed_headers=auth.signed_headers,
    )
    if not hmac.compare_digest(expected.encode("latin-1"), auth.signature.encode("latin-1")):
        raise SignatureError(MISMATCH_MESSAGE)
    return Verified(access_key_id=auth.access_key_id, region=auth.region, service=auth.service)


def error_response(error: StudioError) -> JSONResponse:
    """``error`` as a REST-JSON AWS service answers: ``{"message"}`` with the error code in
    ``x-amzn-ErrorType`` (where AWS SDKs read it first) and a request id."""
    return JSONResponse(
        {"message": error.message},
        status_code=error.status,
        headers={"x-amzn-ErrorType": error.reason, "x-amzn-RequestId": str(uuid.uuid4())},
    )
