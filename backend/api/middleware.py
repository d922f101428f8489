"""Middleware tuned for the JSON API."""

import logging

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbSession
from django.urls import Resolver404, get_resolver

from api import dispatch, identity
from api.errors import ApiError
from eventcache.store import keys, ops, readthrough

log = logging.getLogger("api.middleware")


class AdminOnlyMessageMiddleware(MessageMiddleware):
    """Django's messages (flash messages of the admin) everywhere except under /api/: the API never uses them,
    and setting up their storage (a cookie store with its signer, and a session store) on every request
    costs a cached read ~3% of its time. Responses of requests without messages are left untouched, as by
    MessageMiddleware itself. A subclass, so the admin's check for MessageMiddleware is still satisfied."""

    def process_request(self, request):
        if not request.path_info.startswith("/api/"):
            super().process_request(request)


class CachedHitMiddleware:
    """Verified hits of cached GETs, answered in place of the view: the last middleware, as Django's own
    FetchFromCacheMiddleware is, so every other middleware handles the request and the response exactly as for
    the view's answer, and nothing here repeats what they do.

    A GET that Django's URL resolver maps to a view built by `dispatch.endpoint(cached_get=plan,
    serves_cached_body=True)`, carrying a cached_db session and the hint cookie, is planned as api.identity plans
    it, read with the same one script (identity.read_together) and decided with the same checks
    (identity.verify_fetched). A verified hit of the value is answered with dispatch.cached_response() of the
    stored body, the response the view gives it, after seeding request.session with the session the script read
    (as api.identity does, so SessionMiddleware sees it read, not changed). Anything else (no plan, a miss, a
    lease, a failed check, a custom session expiry, a degraded process, an exception here) goes on to the view
    with the script's reply in request.META (identity.PREFETCHED_ENVIRON_KEY), which api.identity uses instead
    of running the script again; leases in a reply nobody took are given back after the view answered."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            response = _answer(request)
        except Exception:
            log.exception("answering a cached hit failed; the view answers the request")
            response = None
        if response is not None:
            return response
        try:
            return self.get_response(request)
        finally:
            try:
                identity.release_prefetched(request.META)
            except Exception:  # noqa: BLE001 - the leases expire anyway; the answer must still go out
                log.exception("giving back the leases of an unused prefetched read failed")


def _answer(request):
    """The response to a verified hit, or None: the view answers (see CachedHitMiddleware)."""
    if (
        request.method != "GET"
        or identity.HINT_COOKIE not in request.COOKIES
        or not settings.API_FAST_PATH
        or not settings.CACHE_READS_ENABLED
        or settings.SESSION_CACHE_ALIAS != "default"  # the script reads the session with the default cache's client
        or not ops.uses_redis()
    ):
        return None
    session = getattr(request, "session", None)
    if not isinstance(session, CachedDbSession) or not session.session_key or hasattr(session, "_session_cache"):
        return None
    try:
        match = get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
    except Resolver404:
        return None
    if not getattr(match.func, "serves_cached_body", False) or match.args:
        return None
    user_id = identity.hinted_user_id(request)
    if user_id is None:
        return None
    try:
        planned = match.func.cached_get(request, user_id, **match.kwargs)
    except (ApiError, ValueError):  # bad input (InvalidKeyPart is a ValueError): the view answers it
        return None
    if planned is None or readthrough.is_degraded():
        return None
    session_name = keys.session(session)
    prefetched = identity.Prefetched(
        session_name, user_id, planned, identity.read_together(session_name, user_id, planned)
    )
    request.META[identity.PREFETCHED_ENVIRON_KEY] = prefetched  # for the view, unless answered below
    reply = prefetched.reply
    if reply is None or reply.value is None or reply.value.body is None:
        return None
    data = identity.decode_session(reply.session)
    if data is None or identity.verify_fetched(data, user_id, reply.identity) is None:
        return None
    request.META.pop(identity.PREFETCHED_ENVIRON_KEY)
    session._session_cache = data  # what SessionStore.load() would return: cached_db loads this same key
    session.accessed = True  # as the view's reads of it set it (SessionMiddleware then adds Vary: Cookie)
    return dispatch.cached_response(readthrough.CacheRead(reply.value.body, True))
