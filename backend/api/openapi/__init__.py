"""The OpenAPI 3.1 document of the JSON API, generated from the code: the routes of api.urls, the methods each
api.dispatch.endpoint answers, the request bodies declared in api.bodies (api.fields), and the operations and
response shapes declared in api.openapi.contract. build() fails loudly on a route or method without a contract,
so the document cannot silently miss part of the API."""

from api.openapi.generate import build

__all__ = ["build"]
