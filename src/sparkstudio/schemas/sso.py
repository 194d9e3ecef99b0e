"""Single sign-on: the providers offered, and the CLI's exchange of its one-time code."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from sparkstudio.schemas.common import NEXT_PATH_PATTERN, NEXT_PATH_RULE, StrictModel

# A PKCE S256 challenge (RFC 7636): base64url of a SHA-256 digest, without padding.
CLI_CHALLENGE_PATTERN = r"^[A-Za-z0-9_-]{43}$"
# A PKCE code verifier (RFC 7636 section 4.1).
CODE_VERIFIER_PATTERN = r"^[A-Za-z0-9._~-]{43,128}$"

NextPath = Annotated[
    str, Field(max_length=1024, pattern=NEXT_PATH_PATTERN, description=NEXT_PATH_RULE)
]
CliPort = Annotated[
    int, Field(ge=1024, le=65535, description="Port of the CLI's listener on 127.0.0.1.")
]
CliChallenge = Annotated[
    str,
    Field(
        pattern=CLI_CHALLENGE_PATTERN,
        description="BASE64URL(SHA-256(verifier)) of a verifier the CLI keeps (PKCE S256).",
    ),
]


class ProviderPublic(BaseModel):
    name: str
    display_name: str
    login_url: str = Field(description="Where a browser starts signing in (a path here).")


class CliTokenRequest(StrictModel):
    code: str = Field(
        min_length=1, max_length=128, description="The one-time code the CLI was sent."
    )
    code_verifier: str = Field(
        pattern=CODE_VERIFIER_PATTERN,
        description="The verifier whose S256 challenge started the sign-in.",
    )
