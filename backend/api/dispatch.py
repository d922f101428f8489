"""One view per URL, dispatching on the HTTP method, with the API's common rules applied in one place:

- a method without a handler -> 405 JSON (with Allow);
- no identity -> 401 JSON (never a redirect to a login page), unless the endpoint is public;
- ApiError -> its JSON body; a value that cannot be a cache key part -> 400; an oversized body -> 413; a session
  that cannot be ended while Redis is down (api.sessions) -> 503;
- every answer is `Cache-Control: private` (personal: a shared cache must never keep it; SessionMiddleware adds
  `Vary: Cookie`). cached_response() sets it too, so api.fast_path's hits, whose headers come from it, match.

Handlers are `handler(request, me, **url_kwargs)` where `me` is api.identity's dict (None when public).

A cached GET names the read it will do with `cached_get=plan`, `plan(request, user_id, **url_kwargs) ->
PlannedRead | None`, and does it with dispatch.read(request, key, compute): on a hit, the session, the
identity and the value then come in one Redis round trip (api.identity). `plan` must name exactly the key
the GET handler reads for that user, and validate the same input; it may raise ApiError
or InvalidKeyPart like the handler (the handler answers them after authentication), or return None when
the key needs the identity first (meal plans need the family). With `serves_cached_body=True` the endpoint also
promises that its GET answers a hit with exactly cached_response() of that read (the stored body untouched):
api.fast_path may then answer a verified hit in front of Django. The view carries both (`view.cached_get`,
`view.serves_cached_body`) so the fast path finds them through Django's own URL resolver.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.csrf import csrf_exempt as django_csrf_exempt

from api import identity
from api.errors import ApiError, error_response, too_large_error
from api.sessions import SessionEndFailed
from eventcache.declare import InvalidKeyPart
from eventcache.store import readthrough


def endpoint(*, public=False, csrf_exempt=False, cached_get=None, serves_cached_body=False, **handlers):
    """Build a view from method handlers: endpoint(GET=show, PATCH=update, cached_get=plan)."""
    if serves_cached_body and (cached_get is None or public or "GET" not in handlers):
        raise ValueError("serves_cached_body needs a GET handler with a cached_get plan, behind authentication")
    allowed = ", ".join(sorted(handlers))

    def view(request, **kwargs):
        response = answer(request, **kwargs)
        patch_cache_control(response, private=True)
        return response

    def answer(request, **kwargs):
        handler = handlers.get(request.method)
        if handler is None:
            response = error_response(405, "method_not_allowed", f"allowed: {allowed}")
            response["Allow"] = allowed
            return response
        try:
            me = None
            if not public:
                plan = None
                if cached_get is not None and request.method == "GET":

                    def plan(user_id):
                        return cached_get(request, user_id, **kwargs)

                me = identity.current_identity(request, plan)
                if me is None:
                    response = error_response(401, "not_authenticated", "log in with POST /api/auth/login/")
                    if identity.HINT_COOKIE in request.COOKIES:
                        identity.delete_hint(response)
                    return response
            return handler(request, me, **kwargs)
        except ApiError as exc:
            return exc.response()
        except InvalidKeyPart as exc:
            return error_response(400, "invalid", str(exc))
        except RequestDataTooBig:
            return too_large_error().response()
        except SessionEndFailed:  # nothing ended (api.sessions); SessionMiddleware saves nothing on a 5xx
            return error_response(503, "session_store_unavailable", "the session cannot be ended right now; try again")
        finally:
            identity.release_unused(request)

    view.cached_get = cached_get
    view.serves_cached_body = serves_cached_body
    view.handlers = dict(handlers)  # api.openapi documents each method the view answers
    view.public = public
    return django_csrf_exempt(view) if csrf_exempt else view


def read(request, key, compute) -> readthrough.CacheRead:
    """readthrough.read of `key`, starting from the read fetched with the caller's identity if it is this one."""
    first = identity.take_fetched(request, key)
    return readthrough.read(key, compute, first=first)


def cached_response(result) -> HttpResponse:
    """A readthrough.CacheRead as the response: the stored JSON bytes, untouched, and X-Cache."""
    response = HttpResponse(result.body, content_type="application/json")
    response["X-Cache"] = "HIT" if result.hit else "MISS"
    patch_cache_control(response, private=True)
    return response
