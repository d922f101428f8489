"""Verified hits of cached GETs, answered in front of Django: a thin WSGI layer (config/wsgi.py wraps Django in it).

Why: a logged-in cached hit is one Redis round trip (api.identity), but Django's handling around it (the
request, seven middleware, URL resolution, the view, the response) costs more than that round trip. Answering
the hit in front of Django saves that; answering it as the last middleware (as Django's FetchFromCacheMiddleware
does) saves almost nothing, because the middleware and the request handling are the cost (both were measured:
docs/BENCHMARKS.md, "Read path: early middleware vs WSGI layer").

What: a GET that Django's own URL resolver maps to a view built by `dispatch.endpoint(cached_get=plan,
serves_cached_body=True)`, carrying the session cookie and the hint cookie, is planned exactly as api.identity
plans it, read with the same one script (identity.read_together) and decided with the same checks
(identity.verify_fetched). Only a verified hit of the value is answered here: 200, the stored body untouched,
and the headers Django's answer has, DECLARED once from the settings (_response_template: what
dispatch.cached_response() sets and what each middleware of MIDDLEWARE adds to such a response). Nothing here
runs Django's middleware; tests/integration/test_api_fast_path.py proves the declared headers equal to
Django's, header by header, under each security setting, and any other MIDDLEWARE turns this layer off.

Everything else goes to Django, which answers it as if this layer did not exist:
- not such a request (another method, HEAD included; a path of another view; no or garbage cookies; a plan
  that is None or refuses its input), or settings under which the shortcut would not be exact (_exact);
- what Django's middleware answers or changes itself: an SSL redirect, a host not in ALLOWED_HOSTS, a malformed
  CSRF cookie (Django sets a new one); and, to keep this layer simple, a session with a custom expiry and a
  degraded process (Django probes Redis and runs the recovery, inside a request);
- a miss, a lease, a failed check: the script's reply is handed to Django in the environ
  (identity.PREFETCHED_ENVIRON_KEY) and api.identity uses it instead of running the script again, so such a
  request costs what it cost without this layer (one script run; leases, hit/miss counts and hotness counted
  once). Leases in a reply Django did not take are given back after it answered;
- any exception here: logged, and Django answers.

Django's request_started/request_finished signals are not sent for an answer given here. Their receivers
are the database's connection upkeep (close_old_connections; a hit touches no database), Django's query log
reset and URLconf reset, the caches' close (a no-op for django-redis) and eventcache.relay, which delivers the
events a request's writes committed (a hit writes nothing). None of them has anything to do for a hit.
"""

import functools
import logging
from importlib import import_module
from types import MappingProxyType
from typing import NamedTuple

from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbSession
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest, get_path_info
from django.core.signals import setting_changed
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import Resolver404, get_resolver

from api import identity
from api.errors import ApiError
from eventcache.store import keys, ops, readthrough

log = logging.getLogger("api.fast_path")

# The middleware stack whose every effect on such a GET is accounted for here (the request checks in _answer, the
# headers in _response_template); with any other, Django answers.
MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # answers only its static files' URLs; an API GET passes through
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "api.middleware.AdminOnlyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)


def wrap(django_app):
    """The WSGI application: verified cached hits answered here, every other request by `django_app`."""

    def application(environ, start_response):
        try:
            answer = _answer(environ)
        except Exception:
            log.exception("the fast path failed; Django answers the request")
            answer = None
        if answer is not None:
            status, headers, body = answer
            start_response(status, headers)
            return [body]
        try:
            return django_app(environ, start_response)
        finally:
            try:
                identity.release_prefetched(environ)
            except Exception:  # noqa: BLE001 - the leases expire anyway; the answer must still go out
                log.exception("giving back the leases of an unused prefetched read failed")

    return application


def _session_store() -> type:
    return import_module(settings.SESSION_ENGINE).SessionStore


def _exact() -> bool:
    """True when the settings make a verified hit answered here exactly Django's answer to it."""
    return bool(
        settings.API_FAST_PATH
        and settings.CACHE_READS_ENABLED
        and ops.uses_redis()
        and tuple(settings.MIDDLEWARE) == MIDDLEWARE
        and issubclass(_session_store(), CachedDbSession)  # cached_db or api.sessions' (a subclass)
        and settings.SESSION_CACHE_ALIAS == "default"  # the script reads the session with the default cache's client
        and not settings.SESSION_SAVE_EVERY_REQUEST  # it would set the session cookie on every response
        and not settings.CSRF_USE_SESSIONS  # the CSRF secret is then the cookie, checked per request
        and not settings.DISALLOWED_USER_AGENTS  # CommonMiddleware's 403
        and not settings.PREPEND_WWW  # CommonMiddleware's redirect
    )


def _response_template(secure: bool) -> tuple[str, list, list]:
    """The status and headers Django gives a hit, declared once from the settings, in the order Django's
    response has them, split around Content-Length (set per answer): dispatch.cached_response()'s own, then
    what MIDDLEWARE's process_response add, innermost first (tests/integration/test_api_fast_path.py proves
    them equal to Django's, header by header, under each security setting)."""
    head = [("Content-Type", "application/json"), ("X-Cache", "HIT"), ("Cache-Control", "private")]
    if settings.X_FRAME_OPTIONS:  # XFrameOptionsMiddleware
        head.append(("X-Frame-Options", settings.X_FRAME_OPTIONS.upper()))
    tail = [("Vary", "Cookie")]  # SessionMiddleware: the session was read
    if settings.SECURE_HSTS_SECONDS and secure:  # SecurityMiddleware, from here on
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        hsts += "; includeSubDomains" if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS else ""
        hsts += "; preload" if settings.SECURE_HSTS_PRELOAD else ""
        tail.append(("Strict-Transport-Security", hsts))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        tail.append(("X-Content-Type-Options", "nosniff"))
    policy = settings.SECURE_REFERRER_POLICY
    if policy:
        values = [v.strip() for v in policy.split(",")] if isinstance(policy, str) else policy
        tail.append(("Referrer-Policy", ",".join(values)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        tail.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    return "200 OK", head, tail


class _Config(NamedTuple):
    ssl_redirect: bool
    csrf: CsrfViewMiddleware  # its process_request, to see whether Django would replace the CSRF cookie
    responses: dict  # request.is_secure() -> _response_template()
    session_store: type  # SESSION_ENGINE's SessionStore
    session_cookie: str  # SESSION_COOKIE_NAME


@functools.lru_cache(maxsize=1)
def _config() -> _Config | None:
    """What the settings fix for every request (they change only in tests: setting_changed clears this), or
    None when the fast path is off or would not be exact."""
    if not _exact():
        return None
    try:
        responses = {secure: _response_template(secure) for secure in (False, True)}
    except Exception:
        log.exception("the headers of a hit could not be computed; the fast path is off")
        return None
    return _Config(
        settings.SECURE_SSL_REDIRECT,
        CsrfViewMiddleware(lambda request: None),
        responses,
        _session_store(),
        settings.SESSION_COOKIE_NAME,
    )


# Paths resolved by Django's resolver, remembered: the same few paths come back on every hit, and resolving one
# walks the URLconf's patterns. Bounded, so a client sending endless distinct paths only evicts.
@functools.lru_cache(maxsize=2048)
def _resolve(path: str):
    """Django's ResolverMatch for `path`, or None (a 404)."""
    try:
        return get_resolver().resolve(path)
    except Resolver404:
        return None


# A session as stored, decoded once: the same few sessions come back on every hit, and decoding one costs a
# cache-backend look-up and a JSON parse. The decoded data is read-only here (MappingProxyType), so one caller
# cannot change what the next one reads; keyed by the stored bytes, so a changed session is a new entry.
@functools.lru_cache(maxsize=4096)
def _session_data(raw: bytes) -> MappingProxyType | None:
    data = identity.decode_session(raw)
    return None if data is None else MappingProxyType(data)


def _settings_changed(**kwargs) -> None:
    _config.cache_clear()
    _resolve.cache_clear()  # ROOT_URLCONF
    _session_data.cache_clear()  # the cache backend and its serializer


setting_changed.connect(_settings_changed, dispatch_uid="api.fast_path.settings_changed")


def _answer(environ) -> tuple[str, list, bytes] | None:
    """(status, headers, body) of a verified hit, or None: Django answers (see the module doc)."""
    config = _config()
    # Cheap first: most other requests leave here (the hint is parsed properly below).
    if (
        config is None
        or environ.get("REQUEST_METHOD") != "GET"
        or identity.HINT_COOKIE not in environ.get("HTTP_COOKIE", "")
    ):
        return None
    match = _resolve(get_path_info(environ) or "/")  # WSGIRequest's path_info, as Django resolves it
    if match is None or not getattr(match.func, "serves_cached_body", False) or match.args:
        return None
    # A copy: WSGIRequest normalises PATH_INFO in its environ, and the CSRF check below writes to it; Django
    # builds its own request from the environ as the server gave it.
    request = WSGIRequest(dict(environ))
    user_id = identity.hinted_user_id(request)
    session = config.session_store(request.COOKIES.get(config.session_cookie))  # as SessionMiddleware builds it
    if user_id is None or not session.session_key:
        return None
    secure = request.is_secure()
    if config.ssl_redirect and not secure:  # SecurityMiddleware redirects it (or exempts it: Django decides)
        return None
    try:
        request.get_host()
    except DisallowedHost:  # CommonMiddleware: 400
        return None
    config.csrf.process_request(request)
    if request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):  # a malformed CSRF cookie: Django answers with a new one
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
    environ[identity.PREFETCHED_ENVIRON_KEY] = prefetched  # for Django, unless answered below
    body = _verified_body(prefetched)
    if body is None:
        return None
    status, head, tail = config.responses[secure]
    return status, [*head, ("Content-Length", str(len(body))), *tail], body


def _verified_body(prefetched: identity.Prefetched) -> bytes | None:
    """The value's stored body if the reply is a hit of it for a verified caller, with api.identity's checks."""
    reply = prefetched.reply
    if reply is None or reply.value is None or reply.value.body is None:
        return None
    data = None if reply.session is None else _session_data(reply.session)
    if data is None or "_session_expiry" in data:  # a custom expiry: left to Django's session handling
        return None
    if identity.verify_fetched(data, prefetched.user_id, reply.identity) is None:
        return None
    return reply.value.body
