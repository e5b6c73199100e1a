"""Reading what a request sends: the fields of a form or JSON body, and what it asks for.

Bodies are size-limited (:data:`MAX_BODY`) as they arrive, whether or not the
client announced a length; one that cannot be read becomes a
:class:`BadBody`, answered as plain text or JSON as the client prefers.
Text must be UTF-8: a form or JSON body that is not is refused rather than
stored with replacement characters.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import FormData
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

__all__ = ["MAX_BODY"]

MAX_BODY = 64 * 1024
"""Largest request body accepted by the forms, in bytes."""

MAX_FIELDS = 100
"""Most fields a form may send."""


class BadBody(Exception):
    """A body that cannot be read, or a field of the wrong kind (``field`` names it)."""

    def __init__(self, status: int, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


def body_error(exc: BadBody, as_json: bool) -> Response:
    headers = {"Cache-Control": "no-store"}
    if as_json:
        content: dict[str, Any] = {"error": "bad-request", "message": str(exc)}
        if exc.field is not None:
            content["field"] = exc.field
        return JSONResponse(content, status_code=exc.status, headers=headers)
    return PlainTextResponse(str(exc), status_code=exc.status, headers=headers)


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
    """``value`` if it is text, else nothing (for fields whose kind does not matter)."""
    return value if isinstance(value, str) else ""


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true or false"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def text_field(values: dict[str, Any], key: str) -> str:
    """The text field ``key`` ("" when absent or JSON ``null``).

    Raises:
        BadBody: 400 naming the field, when it holds a list, number or object.
    """
    value = values.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise BadBody(400, f"{key}: expected text, not {_kind(value)}", field=key)


def topics_field(values: dict[str, Any], key: str = "topics") -> list[str]:
    """The topics: a list of names, or one text of ``;``-separated names.

    Raises:
        BadBody: 400 naming the field, when it or one of its items is not text.
    """
    value = values.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [t for t in value.split(";") if t.strip()]
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return [t for t in value if t.strip()]
    raise BadBody(400, f"{key}: expected a list of section names", field=key)


def flag_field(values: dict[str, Any], key: str) -> bool:
    """A yes/no field: JSON ``true``/``false``, or a form's ``yes``, ``on``, ``true``, ``1``.

    Raises:
        BadBody: 400 naming the field, when it is neither.
    """
    value = values.get(key)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "on", "true", "1")
    raise BadBody(400, f"{key}: expected true or false, not {_kind(value)}", field=key)


def _unicode_problem(value: Any) -> bool:
    """Whether ``value`` holds text that is not Unicode (a lone surrogate, from ``\\ud800``)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, list):
        return any(_unicode_problem(item) for item in value)
    if isinstance(value, dict):
        return any(_unicode_problem(k) or _unicode_problem(v) for k, v in value.items())
    return False


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 once it passes :data:`MAX_BODY`.

    The announced length is checked first; a chunked body (no length) is
    counted as it arrives, so no client can make the server hold more.
    """
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise BadBody(413, "request body too large")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise BadBody(413, "request body too large")
            chunks.append(chunk)
    except ClientDisconnect:
        # Gone (or cut off by the server's body timeout): nobody reads the answer.
        raise BadBody(400, "the connection closed before the body arrived") from None
    return b"".join(chunks)


def _json_fields(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8") if body else "{}")
    except UnicodeDecodeError:
        raise BadBody(400, "the body is not UTF-8") from None
    except RecursionError:
        raise BadBody(400, "the JSON is nested too deeply") from None
    except ValueError:
        raise BadBody(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadBody(400, "expected a JSON object")
    for key, value in data.items():
        # JSON can escape half a surrogate pair; such text cannot be stored or sent.
        if _unicode_problem(key) or _unicode_problem(value):
            field = key.encode("utf-8", "backslashreplace").decode("utf-8")
            raise BadBody(400, f"{field}: not valid Unicode (a lone surrogate)", field=field)
    return data


def _urlencoded_fields(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise BadBody(400, "the form is not URL-encoded: it holds raw non-ASCII bytes") from None
    try:
        return parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise BadBody(400, "the form is not UTF-8") from None
    except ValueError:
        raise BadBody(400, f"the form has more than {MAX_FIELDS} fields") from None


async def _multipart_fields(request: Request, body: bytes) -> list[tuple[str, str]]:
    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    again = Request(request.scope, receive=replay)
    try:
        form: FormData = await again.form(max_files=0, max_fields=MAX_FIELDS)
    except Exception as exc:  # malformed multipart bodies
        raise BadBody(400, f"the form could not be read: {exc}") from None
    try:
        pairs = [(key, value) for key, value in form.multi_items() if isinstance(value, str)]
    finally:
        await form.close()
    if any("\ufffd" in value for _key, value in pairs):
        raise BadBody(400, "the form is not UTF-8")
    return pairs


async def submitted(request: Request) -> dict[str, Any]:
    """The fields of a form or JSON body (repeated form fields become lists)."""
    body = await read_body(request)
    kind = request.headers.get("content-type", "").lower()
    if kind.startswith("application/json"):
        return _json_fields(body)
    if kind.startswith("multipart/form-data"):
        pairs = await _multipart_fields(request, body)
    elif kind.startswith("application/x-www-form-urlencoded"):
        pairs = _urlencoded_fields(body)
    elif not kind:
        return {}
    else:
        raise BadBody(415, f"expected a form or JSON, not {kind.split(';')[0]}")
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in ("topics", "newsletters"):
            out.setdefault(key, []).append(value)
        else:
            out.setdefault(key, value)
    return out
