"""Login throttling with django-ratelimit, counted per username and per client address.

Only failures count: the view checks with increment=False before trying the password, and increments
after a wrong password. After LOGIN_RATE_LIMIT failures (e.g. "5/m") in the window, further attempts for
that username or from that address answer 429 until the window ends, even with the right password.

When the counter store (Redis) is unreachable, logins are allowed (fail open) and a warning is logged:
a Redis outage must not lock every user out, and the password check itself still applies.
"""

import ipaddress
import logging

from django.conf import settings
from django_ratelimit.core import get_usage

log = logging.getLogger(__name__)

USERNAME_GROUP = "api.login.username"
ADDRESS_GROUP = "api.login.address"


def client_address(request) -> str:
    """The client's address (settings.RATELIMIT_IP_META_KEY, REMOTE_ADDR unless behind a proxy), with IPv6
    clients grouped by their /64 (one host usually owns a whole /64)."""
    raw = (request.META.get(settings.RATELIMIT_IP_META_KEY) or request.META.get("REMOTE_ADDR") or "unknown").strip()
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)


def _usages(request, username: str, increment: bool):
    for group, value in ((USERNAME_GROUP, username.lower()), (ADDRESS_GROUP, client_address(request))):
        yield get_usage(request, group=group, key=lambda _group, _request, v=value: v, rate=settings.LOGIN_RATE_LIMIT, increment=increment)


def is_locked_out(request, username: str) -> bool:
    for usage in _usages(request, username, increment=False):
        if usage is None:  # rate limiting switched off (RATELIMIT_ENABLE=False)
            continue
        if usage["limit"] == 0 and usage["time_left"] == -1:  # django-ratelimit's "cache unreachable" answer
            log.warning("login throttle: the counter store is unreachable; allowing the attempt")
            continue
        if usage["count"] >= usage["limit"]:
            return True
    return False


def record_failure(request, username: str) -> None:
    for _ in _usages(request, username, increment=True):
        pass
