"""One view per URL, dispatching on the HTTP method, with the API's common rules applied in one place:

- a method without a handler -> 405 JSON (with Allow);
- no identity -> 401 JSON (never a redirect to a login page), unless the endpoint is public;
- ApiError -> its JSON body; a value that cannot be a cache key part -> 400; an oversized body -> 413.

Handlers are `handler(request, me, **url_kwargs)` where `me` is api.identity's dict (None when public).
"""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt as django_csrf_exempt

from api.errors import ApiError, error_response, too_large_error
from api.identity import current_identity
from caching.keys import InvalidKeyPart

def endpoint(*, public=False, csrf_exempt=False, **handlers):
    """Build a view from method handlers: endpoint(GET=show, PATCH=update)."""
    allowed = ", ".join(sorted(handlers))

    def view(request, **kwargs):
        handler = handlers.get(request.method)
        if handler is None:
            response = error_response(405, "method_not_allowed", f"allowed: {allowed}")
            response["Allow"] = allowed
            return response
        try:
            me = None
            if not public:
                me = current_identity(request)
                if me is None:
                    return error_response(401, "not_authenticated", "log in with POST /api/auth/login/")
            return handler(request, me, **kwargs)
        except ApiError as exc:
            return exc.response()
        except InvalidKeyPart as exc:
            return error_response(400, "invalid", str(exc))
        except RequestDataTooBig:
            return too_large_error().response()

    return django_csrf_exempt(view) if csrf_exempt else view


def cached_response(result) -> HttpResponse:
    """A readthrough.CacheRead as the response: the stored JSON bytes, untouched, and X-Cache."""
    response = HttpResponse(result.body, content_type="application/json")
    response["X-Cache"] = "HIT" if result.hit else "MISS"
    return response
