"""The OpenID Connect relying party: discovery, the authorization code flow with PKCE, and
ID token validation (authlib's protocol pieces over httpx; signatures with joserfc).

Discovery and the provider's keys are fetched on first use and kept for a few minutes;
failures are not kept, so a provider that comes back is used at once. Every failure is a
:class:`StudioError` whose message is safe to show: a provider that cannot be reached is
a 502 naming it and what failed, a token that does not validate a 401. Codes, tokens and
secrets never appear in messages or logs.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from sparkstudio.auth.providers import OidcProvider
from sparkstudio.errors import StudioError, Unauthenticated

log = logging.getLogger("sparkstudio.sso")

DISCOVERY_PATH = "/.well-known/openid-configuration"
CACHE_SECONDS = 300.0  # discovery and keys: short enough to follow a key rotation
CLOCK_LEEWAY_SECONDS = 60  # clock skew allowed between this host and the provider
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_MAX_DETAIL = 200


class ProviderUnavailable(StudioError):
    """The provider could not be reached or answered something unusable."""

    status = 502
    default_reason = "ProviderUnavailable"


def new_secret() -> str:
    """A state, nonce, PKCE verifier or one-time code: 256 random bits, 43 characters."""
    return secrets.token_urlsafe(32)


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier (RFC 7636)."""
    return str(create_s256_code_challenge(verifier))


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    signing_algorithms: tuple[str, ...]


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who the provider says signed in: its subject and the claims that came with it."""

    subject: str
    claims: Mapping[str, Any]


def printable(text: object, limit: int = _MAX_DETAIL) -> str:
    """Text from a provider, fit for a message and a log line: printable and short."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return cleaned[:limit]


def _transport_problem(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, httpx.ConnectError):
        return "connection refused or host unreachable"
    return type(error).__name__


class OidcClient:
    """This control plane as a client of one provider (safe to share between threads)."""

    def __init__(
        self, provider: OidcProvider, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.provider = provider
        self._transport = transport
        self._lock = threading.Lock()
        self._metadata: tuple[float, ProviderMetadata] | None = None
        self._keys: tuple[float, KeySet] | None = None

    # -- talking to the provider -----------------------------------------------------

    def _unavailable(self, what: str) -> ProviderUnavailable:
        return ProviderUnavailable(
            f"identity provider '{self.provider.name}' is unavailable: {what}"
        )

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            with httpx.Client(timeout=TIMEOUT, transport=self._transport) as http:
                return http.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            log.warning(
                "identity provider %s: %s at %s failed: %s", self.provider.name, what, url, error
            )
            raise self._unavailable(
                f"cannot reach its {what} at {url} ({_transport_problem(error)})"
            ) from error

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise self._unavailable(
                f"its {what} answered HTTP {response.status_code} without a JSON object"
            )
        return body

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        response = self._send("GET", url, what, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise self._unavailable(f"its {what} at {url} answered HTTP {response.status_code}")
        return self._json(response, what)

    # -- discovery and keys ----------------------------------------------------------

    def metadata(self) -> ProviderMetadata:
        """The provider's discovery document (fetched, then kept for a few minutes)."""
        with self._lock:
            cached = self._metadata
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        url = self.provider.issuer.rstrip("/") + DISCOVERY_PATH
        document = self._get_json(url, "discovery document")
        metadata = self._parse_metadata(document)
        with self._lock:
            self._metadata = (time.monotonic() + CACHE_SECONDS, metadata)
        return metadata

    def _parse_metadata(self, document: dict[str, Any]) -> ProviderMetadata:
        fields = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        missing = [name for name in fields if not isinstance(document.get(name), str)]
        if missing:
            raise self._unavailable(f"its discovery document lacks {', '.join(missing)}")
        issuer = str(document["issuer"])
        # OpenID Connect Discovery 1.0 section 4.3: the document's issuer is the one we know.
        if issuer.rstrip("/") != self.provider.issuer.rstrip("/"):
            raise self._unavailable(
                f"its discovery document names issuer {printable(issuer)}, "
                f"not the configured {self.provider.issuer}"
            )
        algorithms = document.get("id_token_signing_alg_values_supported")
        userinfo = document.get("userinfo_endpoint")
        return ProviderMetadata(
            issuer=issuer,
            authorization_endpoint=str(document["authorization_endpoint"]),
            token_endpoint=str(document["token_endpoint"]),
            jwks_uri=str(document["jwks_uri"]),
            userinfo_endpoint=userinfo if isinstance(userinfo, str) else None,
            signing_algorithms=tuple(a for a in algorithms or () if isinstance(a, str)),
        )

    def _key_set(self, metadata: ProviderMetadata, *, refresh: bool = False) -> KeySet:
        with self._lock:
            cached = self._keys
        if cached is not None and cached[0] > time.monotonic() and not refresh:
            return cached[1]
        document = self._get_json(metadata.jwks_uri, "signing keys (JWKS)")
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise self._unavailable(f"its signing keys cannot be read ({error})") from error
        with self._lock:
            self._keys = (time.monotonic() + CACHE_SECONDS, keys)
        return keys

    # -- the authorization code flow -------------------------------------------------

    def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str:
        """Where to send the browser: the provider's login, with state, nonce and PKCE."""
        metadata = self.metadata()
        return str(
            prepare_grant_uri(
                metadata.authorization_endpoint,
                client_id=self.provider.client_id,
                response_type="code",
                redirect_uri=redirect_uri,
                scope=self.provider.scopes,
                state=state,
                nonce=nonce,
                code_challenge=s256(code_verifier),
                code_challenge_method="S256",
            )
        )

    def verify_sign_in(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> VerifiedIdentity:
        """Exchange the code (with the PKCE verifier) and validate the ID token."""
        metadata = self.metadata()
        tokens = self._exchange_code(metadata, code, redirect_uri, code_verifier)
        access_token = tokens.get("access_token")
        access_token = access_token if isinstance(access_token, str) else None
        claims = self._validate_id_token(metadata, str(tokens["id_token"]), nonce, access_token)
        claims = self._add_userinfo(metadata, claims, access_token)
        return VerifiedIdentity(subject=str(claims["sub"]), claims=claims)

    def _exchange_code(
        self, metadata: ProviderMetadata, code: str, redirect_uri: str, code_verifier: str
    ) -> dict[str, Any]:
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        client_auth = ClientAuth(
            self.provider.client_id,
            self.provider.client_secret.get_secret_value(),
            "client_secret_basic",
        )
        url, headers, body = client_auth.prepare("POST", metadata.token_endpoint, headers, body)
        response = self._send("POST", str(url), "token endpoint", content=body, headers=headers)
        if response.status_code >= 500:
            raise self._unavailable(f"its token endpoint answered HTTP {response.status_code}")
        answer = self._json(response, "token endpoint")
        if response.status_code != 200 or "error" in answer:
            error = printable(answer.get("error", f"HTTP {response.status_code}"))
            description = answer.get("error_description")
            detail = f"{error}: {printable(description)}" if description else error
            raise Unauthenticated(
                f"identity provider '{self.provider.name}' refused the sign-in code ({detail}); "
                "start the sign-in again",
                reason="CodeRejected",
            )
        if not isinstance(answer.get("id_token"), str):
            raise self._invalid("the provider sent no ID token (is 'openid' among the scopes?)")
        return answer

    def _invalid(self, why: str) -> Unauthenticated:
        return Unauthenticated(
            f"the ID token of identity provider '{self.provider.name}' is not valid: {why}",
            reason="InvalidIdToken",
        )

    def _validate_id_token(
        self, metadata: ProviderMetadata, id_token: str, nonce: str, access_token: str | None
    ) -> dict[str, Any]:
        # Only asymmetric signatures, checked with the provider's published keys.
        algorithms = [
            alg for alg in metadata.signing_algorithms if alg != "none" and not alg.startswith("HS")
        ] or ["RS256"]
        try:
            try:
                token = jwt.decode(id_token, self._key_set(metadata), algorithms=algorithms)
            except InvalidKeyIdError:  # the provider may have rotated its keys
                keys = self._key_set(metadata, refresh=True)
                token = jwt.decode(id_token, keys, algorithms=algorithms)
        except JoseError as error:
            raise self._invalid(f"its signature does not verify ({error.error})") from error
        client_id = self.provider.client_id
        claims = CodeIDToken(
            token.claims,
            token.header,
            {
                "iss": {"essential": True, "value": metadata.issuer},
                "aud": {"essential": True, "value": client_id},
            },
            {"nonce": nonce, "client_id": client_id, "access_token": access_token},
        )
        try:
            claims.validate(leeway=CLOCK_LEEWAY_SECONDS)
        except ExpiredTokenError as error:
            raise self._invalid("it has expired (claim 'exp')") from error
        except ClaimError as error:
            kind = "missing" if error.error == "missing_claim" else "wrong"
            raise self._invalid(f"claim '{error.claim}' is {kind}") from error
        if not isinstance(token.claims.get("sub"), str) or not token.claims["sub"]:
            raise self._invalid("claim 'sub' is missing")
        return dict(token.claims)

    def _add_userinfo(
        self, metadata: ProviderMetadata, claims: dict[str, Any], access_token: str | None
    ) -> dict[str, Any]:
        """Fill claims the ID token lacks from the userinfo endpoint (some providers only
        put profile and group claims there)."""
        wanted = {self.provider.username_claim, self.provider.groups_claim} - {""}
        if wanted <= claims.keys() or metadata.userinfo_endpoint is None or not access_token:
            return claims
        response = self._send(
            "GET",
            metadata.userinfo_endpoint,
            "userinfo endpoint",
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        if response.status_code != 200:
            raise self._unavailable(f"its userinfo endpoint answered HTTP {response.status_code}")
        userinfo = self._json(response, "userinfo endpoint")
        # OpenID Connect Core 5.3.2: userinfo about another subject must not be used.
        if userinfo.get("sub") != claims["sub"]:
            raise self._invalid("the userinfo endpoint names another subject")
        return {**userinfo, **claims}


class OidcProviders:
    """The configured providers by name, each with its client (kept for the app's life)."""

    def __init__(
        self, providers: list[OidcProvider], *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._clients = {p.name: OidcClient(p, transport=transport) for p in providers}

    def __bool__(self) -> bool:
        return bool(self._clients)

    def names(self) -> list[str]:
        return list(self._clients)

    def get(self, name: str) -> OidcClient | None:
        return self._clients.get(name)

    def all(self) -> list[OidcClient]:
        return list(self._clients.values())
