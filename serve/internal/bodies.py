"""JSON request bodies read by a dependency of their route, once the caller's key has been checked.

FastAPI reads and parses a declared body before it runs any of the route's dependencies, so a
body sent without a key would be read in full, and a malformed one refused with a 422, before the
401. A route with a body takes it instead from a dependency that itself depends on the key check
(`serve.deps.score_call`, `FeedbackBody`): no body is read for a caller without the right. It is then read as
FastAPI reads a declared one (JSON when the content type says so, a 400 for bytes that are not
text, a 422 naming each field), so a refusal looks as it always did.

The body is parsed to plain values first (`read_sent`), so a list longer than its limit is refused
by its count (`limits`) before one of its items is validated, and a route may look at the plain values
before it has them validated (`Sent.validated`): POST /score answers a charity sent exactly as its stored
record without validating it again. A large body is parsed and validated in a worker thread, so that
the event loop goes on answering everyone else (/health included) meanwhile.

`body_schema` documents such a body in the route's OpenAPI operation as FastAPI documents a
declared one, and `document_bodies` adds the models' schemas to the app's components, so the
schema reads exactly as before.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.models import Schema
from fastapi.openapi.utils import validation_error_definition, validation_error_response_definition
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from pydantic_core import from_json

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
REF_TEMPLATE = "#/components/schemas/{model}"
# Parsing and validating more than this would hold the event loop long enough to be noticed.
THREAD_BYTES = 64 * 1024


@lru_cache(maxsize=64)
def _is_json(content_type: str | None) -> bool:
    """True for application/json and application/*+json; a body without a content type is not JSON.
    (Kept for the few content types clients send: parsing one as a mail header costs more than a lookup.)"""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _refused(errors: list[dict]) -> RequestValidationError:
    return RequestValidationError([{**e, "loc": ("body", *e.get("loc", ()))} for e in errors])


def _loads(raw: bytes) -> Any:
    """JSON parsed by pydantic's parser (a few times faster than the standard library's); what it refuses is
    parsed again by the standard library's, for FastAPI's own error (its position and message)."""
    try:
        return from_json(raw)
    except ValueError:
        return json.loads(raw)


def parse_plain(raw: bytes, is_json: bool, limits: Mapping[str, int] | None = None, why: str = "") -> Any:
    """`raw` as plain values (parsed when it is JSON); a list field named in `limits` longer than its limit
    is refused by its count alone (a 422 whose message gives the limit, the count, and `why`)."""
    if not raw:
        raise _refused([{"type": "missing", "loc": (), "msg": "Field required", "input": None}])
    data: Any = raw
    if is_json:
        try:
            data = _loads(raw)
        except json.JSONDecodeError as exc:
            raise _refused([{"type": "json_invalid", "loc": (exc.pos,), "msg": "JSON decode error", "input": {},
                             "ctx": {"error": exc.msg}}]) from exc
        except ValueError as exc:  # bytes that are not UTF-8 (or UTF-16/32) text
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "There was an error parsing the body") from exc
    if isinstance(data, dict):
        for field, most in (limits or {}).items():
            items = data.get(field)
            if isinstance(items, list) and len(items) > most:
                msg = f"List should have at most {most} items, not {len(items)}" + (f" ({why})" if why else "")
                raise _refused([{"type": "too_long", "loc": (field,), "msg": msg, "input": None,
                                 "ctx": {"field_type": "List", "max_length": most, "actual_length": len(items)}}])
    return data


def validate_plain(data: Any, model: type[M]) -> M:
    """Plain values (`parse_plain`) validated as `model`, refused as FastAPI refuses a declared body."""
    try:
        return model.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        raise _refused(exc.errors(include_url=False)) from exc


async def _off_the_loop_if_large(size: int, work: Callable[..., T], *args: Any) -> T:
    """`work(*args)` for a body of `size` bytes: in a worker thread when the body is large enough to hold
    the event loop, else here."""
    if size > THREAD_BYTES:
        return await run_in_threadpool(work, *args)
    return work(*args)


@dataclass(frozen=True, slots=True)
class Sent:
    """A body read and parsed to plain values, its counts checked, not yet validated."""

    data: Any
    size: int

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)`, off the event loop when the body is large (as its parsing and validation are)."""
        return await _off_the_loop_if_large(self.size, work, *args)

    async def validated(self, model: type[M]) -> M:
        return await self.run(validate_plain, self.data, model)


async def read_sent(request: Request, limits: Mapping[str, int] | None = None, why: str = "") -> Sent:
    """The request's body (read now, within the service's size limit) as plain values (`parse_plain`)."""
    raw = await request.body()
    is_json = _is_json(request.headers.get("content-type"))
    return Sent(await _off_the_loop_if_large(len(raw), parse_plain, raw, is_json, limits, why), len(raw))


async def read_body(request: Request, model: type[M], limits: Mapping[str, int] | None = None,
                    why: str = "") -> M:
    """The request's body (read now, within the service's size limit) validated as `model`, once its list
    fields' counts are checked."""
    return await (await read_sent(request, limits, why)).validated(model)


def body_schema(model: type[BaseModel]) -> dict:
    """`openapi_extra` for a route that reads its own body: the body, and the 422 that refuses it, documented
    as FastAPI documents a declared one."""
    def content(name: str) -> dict:
        return {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model=name)}}}

    return {"requestBody": {"content": content(model.__name__), "required": True},
            "responses": {"422": {"description": "Validation Error", "content": content("HTTPValidationError")}}}


def document_bodies(app: FastAPI, *models: type[BaseModel]) -> None:
    """Add the JSON schemas of `models`, the bodies routes read themselves (`body_schema`), to the
    app's OpenAPI components, beside those FastAPI found."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            _, found = models_json_schema([(m, "validation") for m in models], ref_template=REF_TEMPLATE)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, generated in found.get("$defs", {}).items():
                # As FastAPI writes its own: through the OpenAPI model, without the None values.
                definition = jsonable_encoder(Schema.model_validate(generated), by_alias=True, exclude_none=True)
                if components.setdefault(name, definition) != definition:
                    raise ValueError(f"two schemas are named {name}: a request body's and another")
            components.setdefault("ValidationError", validation_error_definition)
            components.setdefault("HTTPValidationError", validation_error_response_definition)
            schema["components"]["schemas"] = dict(sorted(components.items()))
        return app.openapi_schema

    app.openapi = openapi
