"""The client: one HTTP connection pool and a typed accessor per resource."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from sparkstudio.client.applications import Applications
from sparkstudio.client.audit import Audit
from sparkstudio.client.clusters import Clusters, Templates
from sparkstudio.client.job_runs import JobRuns
from sparkstudio.client.notebook_executions import NotebookExecutions
from sparkstudio.client.notebook_schedules import NotebookSchedules
from sparkstudio.client.resources import (
    Groups,
    Members,
    Studios,
    Tokens,
    Users,
    Workspaces,
)
from sparkstudio.errors import StudioError, from_response
from sparkstudio.schemas.common import Page
from sparkstudio.schemas.session import ActionInfo, WhoAmI
from sparkstudio.schemas.sso import ProviderPublic
from sparkstudio.schemas.tokens import LoginResponse

M = TypeVar("M", bound=BaseModel)

API_PREFIX = "/api/v1"


class Client:
    """A connection to one control plane, authenticated with a bearer token."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.url + API_PREFIX, headers=headers, timeout=timeout, transport=transport
        )
        self.token = token
        # When the token stops working, if this client obtained it by logging in.
        self.expires_at: datetime | None = None
        self.users = Users(self)
        self.groups = Groups(self)
        self.studios = Studios(self)
        self.members = Members(self)
        self.workspaces = Workspaces(self)
        self.tokens = Tokens(self)
        self.templates = Templates(self)
        self.clusters = Clusters(self)
        self.applications = Applications(self)
        self.job_runs = JobRuns(self)
        self.notebook_executions = NotebookExecutions(self)
        self.notebook_schedules = NotebookSchedules(self)
        self.audit = Audit(self)

    @classmethod
    def login(cls, url: str, username: str, password: str, **kwargs: Any) -> Client:
        """Log in with a password and return a client using the new session token."""
        with cls(url, **kwargs) as anonymous:
            response = anonymous.request(
                "POST", "/auth/login", json={"username": username, "password": password}
            )
        login = LoginResponse.model_validate(response)
        client = cls(url, login.token, **kwargs)
        client.expires_at = login.expires_at
        return client

    def sso_providers(self) -> list[ProviderPublic]:
        """The single sign-on providers of the platform (needs no token)."""
        return [ProviderPublic.model_validate(p) for p in self.request("GET", "/auth/providers")]

    def exchange_sso_code(self, code: str, code_verifier: str) -> LoginResponse:
        """A CLI sign-in's one-time code and its PKCE verifier for a session (no token)."""
        body = {"code": code, "code_verifier": code_verifier}
        return self.send_model(LoginResponse, "POST", "/auth/oidc/cli-token", body)

    # -- plumbing -----------------------------------------------------------------------

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """Send one request; return the decoded JSON body (None for 204) or raise."""
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, json=json, params=clean)
        except httpx.TransportError as error:
            raise StudioError(
                f"cannot reach the control plane at {self.url}: {error}",
                reason="ConnectionError",
                status=0,
            ) from error
        if response.status_code == 204:
            return None
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:200] or response.reason_phrase, "reason": "HttpError"}
        if response.is_error:
            raise from_response(response.status_code, body if isinstance(body, dict) else {})
        return body

    def get_text(self, path: str, params: dict[str, Any] | None = None) -> str:
        """GET a text body (a log) as it is; errors are raised as by :meth:`request`."""
        return self._get_raw(path, params).text

    def get_bytes(self, path: str, params: dict[str, Any] | None = None) -> bytes:
        """GET a body (a file) as bytes; errors are raised as by :meth:`request`."""
        return self._get_raw(path, params).content

    def _get_raw(self, path: str, params: dict[str, Any] | None) -> httpx.Response:
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.get(path, params=clean)
        except httpx.TransportError as error:
            raise StudioError(
                f"cannot reach the control plane at {self.url}: {error}",
                reason="ConnectionError",
                status=0,
            ) from error
        if response.is_error:
            try:
                body = response.json()
            except ValueError:
                body = {"message": response.text[:200] or response.reason_phrase}
            raise from_response(response.status_code, body if isinstance(body, dict) else {})
        return response

    def stream_lines(self, path: str, params: dict[str, Any] | None = None) -> Iterator[str]:
        """GET a streamed text body and yield it line by line, as it arrives."""
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            with self._http.stream("GET", path, params=clean) as response:
                if response.is_error:
                    response.read()
                    try:
                        body = response.json()
                    except ValueError:
                        body = {"message": response.text[:200], "reason": "HttpError"}
                    error = body if isinstance(body, dict) else {}
                    raise from_response(response.status_code, error)
                yield from response.iter_lines()
        except httpx.TransportError as error:
            raise StudioError(
                f"cannot reach the control plane at {self.url}: {error}",
                reason="ConnectionError",
                status=0,
            ) from error

    def get_model(self, model: type[M], path: str, params: dict[str, Any] | None = None) -> M:
        return model.model_validate(self.request("GET", path, params=params))

    def send_model(
        self, model: type[M], method: str, path: str, body: dict[str, Any] | None = None
    ) -> M:
        return model.model_validate(self.request(method, path, json=body))

    def iterate(self, model: type[M], path: str, **params: Any) -> Iterator[M]:
        """Every item of a paged list, following next_token."""
        token: str | None = None
        while True:
            page = Page[model].model_validate(  # type: ignore[valid-type]
                self.request("GET", path, params={**params, "next_token": token})
            )
            yield from page.items
            token = page.next_token
            if token is None:
                return

    # -- session ------------------------------------------------------------------------

    def me(self) -> WhoAmI:
        return self.get_model(WhoAmI, "/me")

    def logout(self) -> None:
        self.request("POST", "/auth/logout")

    def change_password(self, current_password: str, new_password: str) -> None:
        self.request(
            "POST",
            "/me/password",
            json={"current_password": current_password, "new_password": new_password},
        )

    def actions(self) -> list[ActionInfo]:
        return [ActionInfo.model_validate(a) for a in self.request("GET", "/actions")]

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = self.request("GET", "/health")
        return body

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
