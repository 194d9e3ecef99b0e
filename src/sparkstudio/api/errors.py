"""Render every error as ``{"message", "reason"}``; never a traceback."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from sparkstudio.errors import StudioError, TooManyRequests
from sparkstudio.schemas.common import PATTERN_RULES

log = logging.getLogger("sparkstudio.api")


class ErrorBody(BaseModel):
    message: str
    reason: str
    fields: list[dict[str, str]] | None = None


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] if parts[0] == "body" else parts
    return ".".join(parts) or "body"


def _explain(error: dict[str, Any]) -> str:
    context = error.get("ctx") or {}
    pattern = context.get("pattern")
    if pattern in PATTERN_RULES:
        return f"must be {PATTERN_RULES[pattern]}"
    if error.get("type") == "extra_forbidden":
        return "is not a known field"
    if error.get("type") == "missing":
        return "is required"
    message = str(error.get("msg", "is invalid"))
    return message.removeprefix("Value error, ")


def validation_fields(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"field": _field_name(tuple(e.get("loc", ()))), "message": _explain(e)} for e in errors]


_HTTP_REASONS = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed"}


def _allowed_methods(request: Request) -> set[str]:
    # From the app's own OpenAPI paths: public, and independent of how routers nest.
    table: list[tuple[re.Pattern[str], int, set[str]]] | None = getattr(
        request.app.state, "method_table", None
    )
    if table is None:
        table = [
            (compile_path(path)[0], path.count("{"), {method.upper() for method in operations})
            for path, operations in request.app.openapi()["paths"].items()
        ]
        request.app.state.method_table = table
    path = request.url.path
    matches = [(params, methods) for pattern, params, methods in table if pattern.match(path)]
    if not matches:
        return set()
    # A literal segment names its own resource: /clusters/from-spec is not a cluster id.
    fewest = min(params for params, _ in matches)
    return set().union(*(methods for params, methods in matches if params == fewest))


def install(app: FastAPI) -> None:
    @app.exception_handler(StudioError)
    async def _studio_error(_: Request, error: StudioError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        if isinstance(error, TooManyRequests):
            headers = {"Retry-After": str(error.retry_after)}
        return JSONResponse(error.to_dict(), status_code=error.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        fields = validation_fields(list(error.errors()))
        message = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        body = {
            "message": message or "invalid request",
            "reason": "ValidationError",
            "fields": fields,
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        reason = _HTTP_REASONS.get(error.status_code, "HttpError")
        headers = dict(getattr(error, "headers", None) or {})
        if error.status_code == 405:
            # Starlette names only the first route matching the path; list them all.
            headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
        return JSONResponse(
            {"message": str(error.detail), "reason": reason},
            status_code=error.status_code,
            headers=headers or None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {
                "message": "internal error; the server log has the details",
                "reason": "InternalError",
            },
            status_code=500,
        )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "A request body that cannot be read (not UTF-8 JSON)"),
        (401, "Not authenticated"),
        (403, "Not allowed"),
        (404, "Not found (or not visible to the caller)"),
        (409, "Conflict with the current state"),
        (422, "Invalid input; `fields` names each bad field"),
    )
}
