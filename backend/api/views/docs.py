"""GET /api/schema/: the OpenAPI 3.1 document generated from the code (api.openapi); GET /api/docs/: Swagger UI
over it, every asset served by this app (drf-spectacular-sidecar's Swagger UI bundle, no CDN)."""

import functools

from django.http import JsonResponse
from django.shortcuts import render

from api import openapi
from api.dispatch import endpoint


@functools.cache
def _document() -> dict:
    return openapi.build()


def _schema(request, _me):
    return JsonResponse(_document(), json_dumps_params={"indent": 1})


def _docs(request, _me):
    return render(request, "api/docs.html")


schema = endpoint(public=True, GET=_schema)
docs = endpoint(public=True, GET=_docs)
