"""Login throttling with django-ratelimit, counted per username and per client address.

Count first, decide after: every attempt increments its counters (django-ratelimit's increment, an atomic
INCR in Redis) before the password is checked, and is refused (429) when its own count, less the successes
in the window, is over LOGIN_RATE_LIMIT (e.g. "5/m"). Parallel attempts each get a different count, so at
most the limit of them reach the password check; checking first and counting after the (slow) password hash
let every one of 30 parallel wrong guesses through. A successful login gives its count back (a success
counter, as django-ratelimit has no decrement), so only failures lock out, as before: after the limit of
failures, further attempts for that username or from that address answer 429 until the window ends, even
with the right password. The windows are django-ratelimit's fixed ones (each value's ends at its own offset in
the period): attempts that straddle an end are counted in two windows, so a burst there gets at most twice the
limit through.

When an attempt cannot be counted (Redis is down, or refuses writes at maxmemory under noeviction), the
throttle fails closed: the attempt is refused (503) before the password is checked, and a warning is logged.
Failing open would let unlimited guesses through for as long as Redis stays full or away, and then the right
one in. Logins wait for Redis; sessions already open keep working (they are written through to the database).
"""

import enum
import ipaddress
import logging

from django.conf import settings
from django_ratelimit.core import get_usage

log = logging.getLogger(__name__)

USERNAME_GROUP = "api.login.username"
ADDRESS_GROUP = "api.login.address"
SUCCESS_SUFFIX = ".ok"


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


def _keys(request, username: str):
    return ((USERNAME_GROUP, username.lower()), (ADDRESS_GROUP, client_address(request)))


def _usage(request, group: str, value: str, increment: bool):
    rate = settings.LOGIN_RATE_LIMIT
    return get_usage(request, group=group, key=lambda _group, _request: value, rate=rate, increment=increment)


def _unreachable(usage) -> bool:
    return usage["limit"] == 0 and usage["time_left"] == -1  # django-ratelimit's "cache unreachable" answer


class Decision(enum.Enum):
    ADMITTED = "admitted"  # check the password
    LOCKED = "locked"  # too many failures: 429
    UNAVAILABLE = "unavailable"  # the attempt could not be counted: 503


def admit(request, username: str) -> Decision:
    """Count this attempt, then say whether it may check the password."""
    decision = Decision.ADMITTED
    for group, value in _keys(request, username):
        attempts = _usage(request, group, value, increment=True)
        if attempts is None:  # rate limiting switched off (RATELIMIT_ENABLE=False)
            continue
        if _unreachable(attempts):
            log.warning("login throttle: the attempt could not be counted (Redis down or full); refusing it")
            return Decision.UNAVAILABLE
        successes = _usage(request, group + SUCCESS_SUFFIX, value, increment=False)
        given_back = 0 if successes is None or _unreachable(successes) else successes["count"]
        if attempts["count"] - given_back > attempts["limit"]:
            decision = Decision.LOCKED  # no early return: every counter counts this attempt
    return decision


def record_success(request, username: str) -> None:
    """Give back the count of an attempt that logged in: only failures count towards the limit."""
    for group, value in _keys(request, username):
        _usage(request, group + SUCCESS_SUFFIX, value, increment=True)
