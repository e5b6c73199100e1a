"""Reading what a request sends: the fields of a form or JSON body, and what it asks for.

Bodies are size-limited (:data:`MAX_BODY`); one that cannot be read becomes
a :class:`BadBody`, answered as plain text or JSON as the client prefers.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

__all__ = ["MAX_BODY"]

MAX_BODY = 64 * 1024
"""Largest request body accepted by the forms, in bytes."""


class BadBody(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def body_error(exc: BadBody, as_json: bool) -> Response:
    if as_json:
        return JSONResponse({"error": "bad-request", "message": str(exc)}, status_code=exc.status)
    return PlainTextResponse(str(exc), status_code=exc.status)


def wants_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    accept = request.headers.get("accept", "")
    return kind.startswith("application/json") or (
        "application/json" in accept and "text/html" not in accept
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def request_token(request: Request) -> str:
    return request.query_params.get("token", "")


def form_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def form_topics(value: Any) -> list[str]:
    if isinstance(value, str):
        return [t for t in value.split(";") if t.strip()]
    if isinstance(value, list | tuple):
        return [t for t in value if isinstance(t, str) and t.strip()]
    return []


async def submitted(request: Request) -> dict[str, Any]:
    """The fields of a form or JSON body (repeated form fields become lists)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise BadBody(413, "request body too large")
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        body = await request.body()
        if len(body) > MAX_BODY:
            raise BadBody(413, "request body too large")
        try:
            data = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise BadBody(400, "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BadBody(400, "expected a JSON object")
        return data
    if not kind:
        return {}
    try:
        form: FormData = await request.form(max_files=0, max_fields=100)
    except Exception as exc:  # malformed multipart / urlencoded bodies
        raise BadBody(400, f"the form could not be read: {exc}") from None
    try:
        out: dict[str, Any] = {}
        for key in form:
            items = [v for v in form.getlist(key) if isinstance(v, str)]
            out[key] = items if key == "topics" else (items[0] if items else "")
        return out
    finally:
        await form.close()
