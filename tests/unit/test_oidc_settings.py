"""SPARKSTUDIO_OIDC_PROVIDERS: read as JSON; a bad provider stops the start, naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from sparkstudio.settings import Settings

GOOD = {
    "name": "corp",
    "issuer": "https://login.example.com/realms/corp",
    "client_id": "sparkstudio",
    "client_secret": "s3cret",
}


def settings_with(monkeypatch: pytest.MonkeyPatch, *providers: dict[str, Any]) -> Settings:
    monkeypatch.setenv("SPARKSTUDIO_OIDC_PROVIDERS", json.dumps(list(providers)))
    return Settings(home=Path("/nonexistent/sparkstudio-tests"))


def test_providers_come_from_the_environment_with_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (provider,) = settings_with(monkeypatch, GOOD).oidc_providers
    assert provider.label == "corp" and provider.scopes == ["openid", "profile", "email"]
    assert provider.username_claim == "preferred_username" and provider.groups_claim == "groups"
    assert "s3cret" not in repr(provider)
    local = settings_with(monkeypatch, {**GOOD, "issuer": "http://127.0.0.1:9400"})
    assert local.oidc_providers[0].issuer == "http://127.0.0.1:9400"


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"issuer": "http://login.example.com"}, "issuer", "https://"),
        ({"issuer": "https://login.example.com/?tenant=1"}, "issuer", "without query"),
        ({"name": "has space"}, "name", "letters, digits"),
        ({"scopes": ["profile"]}, "scopes", "must include 'openid'"),
        ({"scopes": ["openid", "two words"]}, "scopes", "not a scope"),
        ({"username_claim": ""}, "username_claim", "claim name"),
        ({"client_secret": ""}, "client_secret", "at least 1"),
        ({"tenant": "x"}, "tenant", "Extra inputs"),
    ],
)
def test_a_bad_provider_is_refused_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, change: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        settings_with(monkeypatch, {**GOOD, **change})
    (error,) = raised.value.errors()
    assert error["loc"] == ("oidc_providers", 0, field)
    assert says in error["msg"]


def test_provider_names_are_unique(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="repeated: corp"):
        settings_with(monkeypatch, GOOD, {**GOOD, "client_id": "other"})
