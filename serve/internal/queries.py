"""Query strings read as a model by a dependency of their route, rather than declared to FastAPI.

FastAPI reads a declared query model (`Annotated[Model, Query()]`) field by field in Python, which
cost GET /rankings a fifth of its CPU: more than the page itself once its rows are in memory. A
route that reads its query itself (`read_query`) has pydantic validate the whole query string at
once, and refuses it as FastAPI would: a 422 naming each parameter (`loc` `["query", name]`), an
unknown parameter refused where the model forbids others, the last of a repeated parameter taken.

`query_schema` documents such a query in the route's OpenAPI operation with the parameters FastAPI
itself writes for the model, so the schema reads exactly as before. `tests/test_serve_validation.py`
holds both to FastAPI's own, answer for answer.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def read_query(request: Request, model: type[M]) -> M:
    """The request's query string validated as `model`, refused as FastAPI refuses a declared query model."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]) \
            from exc


def query_schema(model: type[BaseModel]) -> dict:
    """`openapi_extra` for a route that reads its query as `model` itself: the parameters, and the 422 that
    refuses them, as FastAPI documents `Annotated[model, Query()]` (found by asking FastAPI)."""
    def declared(query) -> None:  # documentation only: never served
        pass

    declared.__annotations__ = {"query": Annotated[model, Query()]}  # the object, not this module's text of it
    probe = FastAPI()
    probe.get("/")(declared)
    operation = probe.openapi()["paths"]["/"]["get"]
    parameters = operation["parameters"]
    if "$ref" in repr(parameters):
        raise ValueError(f"{model.__name__}'s query parameters refer to other schemas: document those too")
    validation = operation["responses"]["422"]
    return {"parameters": parameters, "responses": {"422": validation}}
