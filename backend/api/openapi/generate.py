"""Builds the OpenAPI 3.1 document by walking api.urls: each named route whose view is an api.dispatch.endpoint
contributes one operation per method it answers, described by api.openapi.contract and api.openapi.shapes."""

import re

from django.urls import URLPattern

from api.openapi import contract, shapes

_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_NOT_API = {"api-schema", "api-docs"}  # the document and its viewer describe the API, they are not part of it

SECURITY_SCHEMES = {
    "session": {"type": "apiKey", "in": "cookie", "name": "sessionid", "description": "from POST /api/auth/login/"},
    "csrf": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRFToken",
        "description": "the csrftoken cookie's value, on every POST, PUT, PATCH and DELETE",
    },
    "csrf_cookie": {"type": "apiKey", "in": "cookie", "name": "csrftoken", "description": "set by the login response"},
}


class MissingContract(LookupError):
    """A route and method the API answers that api.openapi.contract does not describe."""


def _routes(prefix: str = "/api/"):
    from api import urls

    for pattern in urls.urlpatterns:
        view = getattr(pattern, "callback", None)
        if not isinstance(pattern, URLPattern) or not hasattr(view, "handlers") or not pattern.name:
            continue
        if pattern.name in _NOT_API:
            continue
        route = str(pattern.pattern)
        yield pattern.name, prefix + _PARAM.sub(r"{\g<name>}", route), _PARAM.findall(route), view


def _response(status: int, schema_name: str | None, cached: bool) -> dict:
    response = {"description": "success" if schema_name else "done, no content"}
    if schema_name:
        response["content"] = {"application/json": {"schema": shapes.ref(schema_name)}}
    if cached:
        response["headers"] = {
            "X-Cache": {
                "description": "HIT when answered from Redis",
                "schema": {"type": "string", "enum": ["HIT", "MISS"]},
            }
        }
    return response


def _operation(name: str, method: str, params: list, view) -> dict:
    op = contract.OPERATIONS.get((name, method))
    if op is None:
        raise MissingContract(f"{method} of route {name!r} has no entry in api.openapi.contract.OPERATIONS")
    parameters = [
        {"name": param, "in": "path", "required": True, "schema": contract.PATH_PARAMS[param]}
        for _conv, param in params
    ]
    parameters += [{"name": q, "in": "query", "required": False, "schema": schema} for q, schema in op.query.items()]
    operation = {
        "operationId": f"{method.lower()}_{name.removeprefix('api-').replace('-', '_')}",
        "summary": op.summary,
        "tags": list(op.tags),
        "responses": {str(status): _response(status, schema, op.cached) for status, schema in op.responses.items()}
        | {
            "default": {
                "description": "an error: 400 bad input, 401 not logged in, 403 forbidden or CSRF, 404, 405, 413, 429",
                "content": {"application/json": {"schema": shapes.ref("Error")}},
            }
        },
    }
    if parameters:
        operation["parameters"] = parameters
    if op.body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": shapes.ref(op.body)}},
        }
    security = [] if view.public else [{"session": []}]
    if method in _UNSAFE and not getattr(view, "csrf_exempt", False):
        security = [{**(security[0] if security else {}), "csrf": [], "csrf_cookie": []}]
    operation["security"] = security
    return operation


def build(*, server_url: str = "/") -> dict:
    paths: dict = {}
    for name, path, params, view in _routes():
        item = paths.setdefault(path, {})
        for method in sorted(view.handlers):
            item[method.lower()] = _operation(name, method, params, view)
    missing = set(contract.OPERATIONS) - {
        (name, method) for name, _path, _params, view in _routes() for method in view.handlers
    }
    if missing:
        raise MissingContract(f"contract entries for routes or methods that do not exist: {sorted(missing)}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "recipe-planner API",
            "version": "1",
            "description": "Session-cookie JSON API. Log in with POST /api/auth/login/, then send the csrftoken "
            'cookie\'s value as X-CSRFToken on every write. Errors answer {"error": code, "detail": ...}.',
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"schemas": shapes.SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }
