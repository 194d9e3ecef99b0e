"""Printing results: rich tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)

Column = tuple[str, Callable[[Any], object]]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def emit_json(data: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    if isinstance(data, BaseModel):
        payload: Any = data.model_dump(mode="json", by_alias=True)
    elif isinstance(data, dict):
        payload = data
    else:
        payload = [item.model_dump(mode="json", by_alias=True) for item in data]
    print(json.dumps(payload, indent=2))


def table(items: Sequence[Any], columns: Sequence[Column], *, as_json: bool, empty: str) -> None:
    if as_json:
        emit_json(items)
        return
    if not items:
        console.print(f"[dim]{empty}[/dim]")
        return
    grid = Table(show_edge=False, header_style="bold")
    for title, _ in columns:
        grid.add_column(title, overflow="fold")
    for item in items:
        grid.add_row(*(_cell(getter(item)) for _, getter in columns))
    console.print(grid)


def record(item: BaseModel, *, as_json: bool, hide: frozenset[str] = frozenset()) -> None:
    """One resource as field/value lines."""
    if as_json:
        emit_json(item)
        return
    grid = Table(show_header=False, show_edge=False, box=None)
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in item.model_dump(by_alias=True).items():
        if key in hide:
            continue
        shown = json.dumps(value) if key == "session_policy" and value else _cell(value)
        grid.add_row(key, shown)
    console.print(grid)


def done(message: str, *, as_json: bool, payload: dict[str, Any] | None = None) -> None:
    if as_json:
        emit_json(payload or {"ok": True})
    else:
        console.print(message)
