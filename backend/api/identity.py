"""Who is calling, without touching the database on the hot path.

Django's `request.user` loads the user row on every request. Cached reads must cost no query at all, so
API views use current_identity() instead: the user id comes from the session (cached_db: Redis first),
the user's facts from the cached `user:{id}:identity` value, and the session's auth hash is compared with
the cached one in constant time, as django.contrib.auth.get_user() does with the row. A password change
(or deactivation) drops the identity key, so the next request sees the new hash and ends the session. On a
mismatch Django's own get_user() (database) has the last word, so SECRET_KEY_FALLBACKS keep working.
"""

import json

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user, get_user_model
from django.utils.crypto import constant_time_compare

from caching import keys, readthrough
from planner import payloads


def _session_user_id(request) -> int | None:
    raw = request.session.get(SESSION_KEY)
    try:
        user_id = int(raw)
    except (TypeError, ValueError):
        return None
    return user_id if user_id > 0 else None


def current_identity(request) -> dict | None:
    """The caller's identity dict (payloads.identity's shape), or None for an anonymous caller."""
    user_id = _session_user_id(request)
    if user_id is None:
        return None
    if request.session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        request.session.flush()
        return None
    try:
        result = readthrough.read(keys.identity(user_id), lambda: payloads.identity(user_id))
    except get_user_model().DoesNotExist:  # the user was deleted
        request.session.flush()
        return None
    identity = json.loads(result.body)
    session_hash = request.session.get(HASH_SESSION_KEY) or ""
    if identity["is_active"] and constant_time_compare(session_hash, identity["session_hash"]):
        return identity
    return _verify_with_database(request, user_id)


def _verify_with_database(request, user_id: int) -> dict | None:
    """The rare mismatch: let Django decide from the user row. It accepts a hash made with a key in
    SECRET_KEY_FALLBACKS (and upgrades it) and flushes the session when the hash is really wrong."""
    user = get_user(request)
    if not user.is_authenticated or user.pk != user_id:
        request.session.flush()  # inactive or wrong hash: this session is over
        return None
    return payloads.identity(user_id)
