"""What keeps POST /api/auth/login/ from being sent by another site (login CSRF), although it is CSRF-exempt.

Why exempt: before login a client holds no csrftoken, so Django's token check would need an extra round trip
(a GET that sets the cookie) from every API client. Why that is safe with the two checks below:

1. The body must be `Content-Type: application/json` (else 415). A page on another site can make a browser
   send only "simple" requests without asking first: a form post (urlencoded, multipart, text/plain) or a
   fetch with one of those types. A cross-origin fetch with application/json needs a CORS preflight, which
   this app never grants (it sends no Access-Control-Allow-* header), so the browser never sends the POST.
2. When the request says where it comes from, it must be from here (else 403): the Origin header, which
   every current browser sends on a cross-origin POST, must be this host (scheme included) or one of
   settings.CSRF_TRUSTED_ORIGINS; on HTTPS without Origin, a Referer must be https and this host or a
   trusted one. These are the rules of Django's CsrfViewMiddleware (its origin and referer checks),
   written here with public pieces since the middleware offers them only together with the token check.
   Clients that are not browsers send neither header and are not affected.

Both run before the password is checked, so a refused request is not a failed login (it cannot lock a user out).
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.utils.http import is_same_domain

from api.errors import ApiError

JSON = "application/json"


def check(request) -> None:
    """Raise ApiError 415 (not JSON) or 403 (another origin) unless the login request may go on."""
    if request.content_type != JSON:
        raise ApiError(415, "unsupported_media_type", f"login takes a JSON body (Content-Type: {JSON})")
    origin = request.META.get("HTTP_ORIGIN")
    if origin is not None:  # noqa: SIM102 (an allowed Origin must not fall through to the Referer check)
        if not _origin_allowed(request, origin):
            raise ApiError(403, "cross_origin", f"login from origin {origin!r} is not allowed")
    elif request.is_secure() and "HTTP_REFERER" in request.META:  # noqa: SIM102 (kept parallel to the Origin branch)
        if not _referer_allowed(request, request.META["HTTP_REFERER"]):
            raise ApiError(403, "cross_origin", "login from another site (Referer) is not allowed")


def _own_host(request) -> str | None:
    try:
        return request.get_host()
    except DisallowedHost:
        return None


def _origin_allowed(request, origin: str) -> bool:
    host = _own_host(request)
    if host is not None and origin == f"{'https' if request.is_secure() else 'http'}://{host}":
        return True
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    return any(
        trusted.scheme == parsed.scheme and is_same_domain(parsed.netloc, trusted.netloc)
        for trusted in _trusted_wildcards()
    )


def _referer_allowed(request, referer: str) -> bool:
    try:
        parsed = urlsplit(referer)
    except ValueError:
        return False
    if parsed.scheme != "https" or not parsed.netloc:
        return False
    host = _own_host(request)
    if host is not None and is_same_domain(parsed.netloc, host):
        return True
    trusted_hosts = (urlsplit(origin).netloc.replace("*", "") for origin in settings.CSRF_TRUSTED_ORIGINS)
    return any(is_same_domain(parsed.netloc, trusted) for trusted in trusted_hosts)


def _trusted_wildcards():
    """CSRF_TRUSTED_ORIGINS of the form https://*.example.com, as (scheme, ".example.com") like Django reads them."""
    for origin in settings.CSRF_TRUSTED_ORIGINS:
        parsed = urlsplit(origin)
        if "*" in parsed.netloc:
            yield parsed._replace(netloc=parsed.netloc.replace("*", "", 1))
