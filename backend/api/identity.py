"""Who is calling, without touching the database on the hot path.

Django's `request.user` loads the user row on every request. Cached reads must cost no query at all, so
API views use current_identity() instead: the user id comes from the session (cached_db: Redis first),
the user's facts from the cached `user:{id}:identity` value, and the session's auth hash is compared with
the cached one in constant time, as django.contrib.auth.get_user() does with the row. A password change
(or deactivation) drops the identity key, so the next request sees the new hash and ends the session. On a
mismatch Django's own get_user() (database) has the last word, so SECRET_KEY_FALLBACKS keep working.

One round trip. Login also sets a small HttpOnly cookie, HINT_COOKIE, holding the user id: not a secret and
never trusted, only a guess of whose identity (and, for a cached GET, whose value key) to fetch together
with the session. When it is present, current_identity() fetches the session, that user's identity and the
endpoint's value in ONE Redis script (eventcache.store.readthrough.read_authenticated), seeds request.session with
the session it read (so Django does not read it again), and then runs exactly the checks above on what it
fetched: the session's user id, its backend, the identity's is_active and the constant-time hash compare.
The value is handed to the view (take_fetched) only after they passed, and only if it is the key of the
user they established. The script itself reads the identity only if the session names the hinted user, and
the value only if that identity is a current, active hit carrying the session's hash, so a wrong or forged
hint reads (counts, leases, marks hot) nothing of another user; it just costs the separate reads.
Whatever is missing (no hint, the session not in Redis, an identity miss, Redis failing or degraded, cached
reads off) falls back to the separate reads of the step that needs them.

api.fast_path may already have run that one script in front of Django for this request (a GET it could not
answer itself): it passes the reply in the WSGI environ (PREFETCHED_ENVIRON_KEY), and _fetch_together uses it
instead of running the script again when it is for the same session, user and planned read. Both paths
decide with the same checks (_authenticated_user_id, _identity_holds; verify_fetched for the fast path).
"""

import json
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user, get_user_model
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbSession
from django.core.cache import cache
from django.utils.crypto import constant_time_compare

from api.errors import ApiError
from eventcache.declare import Key
from eventcache.store import keys, readthrough
from eventcache.store.ops import AuthenticatedRead, ReadResult
from planner import cache as planner_cache
from planner import payloads

HINT_COOKIE = "uid_hint"  # the logged-in user's id, set at login beside the session cookie (see the module doc)
_FETCHED_ATTR = "_api_fetched_read"  # on the request: the value read in the identity's round trip, until taken
# In the WSGI environ: a Prefetched from api.fast_path. Not an HTTP_* name, so no client can set it.
PREFETCHED_ENVIRON_KEY = "recipe_planner.prefetched"


@dataclass(frozen=True)
class PlannedRead:
    """The cached read a GET view will do for the user id it is given: fetched with the session and identity."""

    key: Key


@dataclass(frozen=True)
class _Fetched:
    user_id: int  # the hinted id everything was read for
    identity: ReadResult | None
    planned: PlannedRead | None
    value: ReadResult | None


@dataclass(frozen=True)
class Prefetched:
    """The one-round-trip read, done before Django by api.fast_path: for `session_name` (keys.session), the hinted
    `user_id` and `planned`; `reply` None when the cache was not in use (read_authenticated's None)."""

    session_name: str
    user_id: int
    planned: PlannedRead
    reply: AuthenticatedRead | None

    def is_for(self, session_name: str, user_id: int, planned: PlannedRead | None) -> bool:
        return (self.session_name, self.user_id, self.planned) == (session_name, user_id, planned)

    def fetched(self) -> _Fetched | None:
        if self.reply is None:
            return None
        return _Fetched(self.user_id, self.reply.identity, self.planned, self.reply.value)


def set_hint(response, request, user_id: int) -> None:
    """The hint cookie, with the session cookie's lifetime and flags (HttpOnly, Secure, SameSite)."""
    at_close = request.session.get_expire_at_browser_close()
    response.set_cookie(
        HINT_COOKIE,
        str(user_id),
        max_age=None if at_close else request.session.get_expiry_age(),
        domain=settings.SESSION_COOKIE_DOMAIN,
        path=settings.SESSION_COOKIE_PATH,
        secure=settings.SESSION_COOKIE_SECURE or None,
        httponly=True,
        samesite=settings.SESSION_COOKIE_SAMESITE,
    )


def delete_hint(response) -> None:
    response.delete_cookie(
        HINT_COOKIE, path=settings.SESSION_COOKIE_PATH, domain=settings.SESSION_COOKIE_DOMAIN,
        samesite=settings.SESSION_COOKIE_SAMESITE,
    )  # fmt: skip


def _positive_int(raw) -> int | None:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def _authenticated_user_id(session) -> int | None:
    """The user a session (a SessionStore, or its data as loaded) is logged in as, as get_user() reads it: a
    positive id, through a backend still in AUTHENTICATION_BACKENDS. None otherwise."""
    user_id = _positive_int(session.get(SESSION_KEY))
    if user_id is None or session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return None
    return user_id


def _identity_holds(session, identity: dict) -> bool:
    """The session's user may act on it: active, and the session carries the identity's auth hash (constant time)."""
    return identity["is_active"] and constant_time_compare(
        session.get(HASH_SESSION_KEY) or "", identity["session_hash"]
    )


def verify_fetched(session_data: dict, user_id: int, identity: ReadResult | None) -> dict | None:
    """The identity of `user_id` if what was fetched settles it with nothing left for the database to decide: the
    session is logged in as that very user (_authenticated_user_id) and the identity read is a hit that holds for
    it (_identity_holds). Else None (the caller then lets _identity decide, which may ask the database)."""
    if identity is None or identity.body is None or _authenticated_user_id(session_data) != user_id:
        return None
    me = json.loads(identity.body)
    return me if me["id"] == user_id and _identity_holds(session_data, me) else None


def decode_session(raw: bytes | None) -> dict | None:
    """A cached_db session as read from Redis, decoded exactly as cache.get() would; None when missing or not a
    session (cached_db's own load() treats an undecodable entry as missing too)."""
    if raw is None:
        return None
    try:
        data = cache.client.decode(raw)
    except Exception:  # noqa: BLE001 - see above
        return None
    return data if isinstance(data, dict) else None


def hinted_user_id(request) -> int | None:
    raw = request.COOKIES.get(HINT_COOKIE)
    if not raw or len(raw) > 19 or not raw.isascii() or not raw.isdigit():
        return None
    return _positive_int(raw)


def read_together(session_name: str, user_id: int, planned: PlannedRead | None) -> AuthenticatedRead | None:
    """The one script: the session `session_name`, the identity of `user_id` and, if planned, the value."""
    return readthrough.read_authenticated(
        session_name, user_id, planner_cache.identity(user_id), planned.key if planned else None
    )


def _take_prefetched(environ) -> Prefetched | None:
    prefetched = environ.pop(PREFETCHED_ENVIRON_KEY, None)
    return prefetched if isinstance(prefetched, Prefetched) else None


def _release_prefetched(prefetched: Prefetched | None) -> None:
    fetched = prefetched.fetched() if prefetched is not None else None
    if fetched is not None:
        _release(fetched)


def release_prefetched(environ) -> None:
    """After Django answered: give back the leases of a read api.fast_path fetched that nothing took."""
    _release_prefetched(_take_prefetched(environ))


def _fetch_together(request, plan) -> _Fetched | None:
    """The one-round-trip read (see the module doc), or the same read already done by api.fast_path: seeds
    request.session and returns what was fetched, or None when it does not apply. Verifies nothing."""
    user_id = hinted_user_id(request)
    session = getattr(request, "session", None)
    if (
        user_id is None
        or not isinstance(session, CachedDbSession)
        or settings.SESSION_CACHE_ALIAS != "default"  # the store's own connection is the default cache's
        or not session.session_key
        or hasattr(session, "_session_cache")  # already loaded
    ):
        return None
    planned = None
    if plan is not None:
        try:
            planned = plan(user_id)
        except (ApiError, ValueError):  # bad input: the view answers it, after authentication
            planned = None
    session_name = keys.session(session)
    prefetched = _take_prefetched(request.META)
    if prefetched is not None and prefetched.is_for(session_name, user_id, planned):
        reply = prefetched.reply
    else:  # none, or for another read (cannot happen: the fast path plans as above): do our own
        _release_prefetched(prefetched)
        reply = read_together(session_name, user_id, planned)
    if reply is None:
        return None
    fetched = _Fetched(user_id, reply.identity, planned, reply.value)
    data = decode_session(reply.session)
    if data is None:  # not in Redis (cached_db reads the database) or not a session
        _release(fetched)
        return None
    # What SessionStore.load() would return for this key: cached_db's load() is cache.get() of this same key.
    session._session_cache = data
    return fetched


def _release(fetched: _Fetched) -> None:
    """Give back the leases of fetched reads nobody will use."""
    if fetched.identity is not None:
        readthrough.release(planner_cache.identity(fetched.user_id), fetched.identity)
    if fetched.value is not None:
        readthrough.release(fetched.planned.key, fetched.value)


def current_identity(request, plan=None) -> dict | None:
    """The caller's identity dict (payloads.identity's shape), or None for an anonymous caller.

    `plan(user_id) -> PlannedRead | None`: the cached read the view will do for that user; it is fetched in
    the same round trip as the session and identity, and handed to the view by take_fetched()."""
    fetched = _fetch_together(request, plan)
    value = fetched.value if fetched is not None else None
    try:
        me = _identity(request, fetched)
    except BaseException:
        if value is not None:
            readthrough.release(fetched.planned.key, value)
        raise
    if value is not None:
        if me is not None and me["id"] == fetched.user_id:
            setattr(request, _FETCHED_ATTR, (fetched.planned, value))
        else:
            readthrough.release(fetched.planned.key, value)
    return me


def _identity(request, fetched: _Fetched | None) -> dict | None:
    """Today's checks, on the session as loaded and the identity read; the fetched identity read (if any) is
    used as that read's first round trip or its lease given back."""
    fetched_identity = fetched.identity if fetched is not None else None
    user_id = _authenticated_user_id(request.session)
    if user_id is None:
        if fetched_identity is not None:
            readthrough.release(planner_cache.identity(fetched.user_id), fetched_identity)
        if _positive_int(request.session.get(SESSION_KEY)) is not None:  # logged in through a backend since removed
            request.session.flush()
        return None
    if fetched_identity is not None and fetched.user_id != user_id:
        # Cannot happen (the script reads it only for the session's user); never use another user's.
        readthrough.release(planner_cache.identity(fetched.user_id), fetched_identity)
        fetched_identity = None
    try:
        key = planner_cache.identity(user_id)
        result = readthrough.read(key, lambda: payloads.identity(user_id), first=fetched_identity)
    except get_user_model().DoesNotExist:  # the user was deleted
        request.session.flush()
        return None
    identity = json.loads(result.body)
    if _identity_holds(request.session, identity):
        return identity
    return _verify_with_database(request, user_id)


def take_fetched(request, key: Key) -> ReadResult | None:
    """The read of `key` fetched with the caller's verified identity, once; None if there is none for it."""
    fetched = getattr(request, _FETCHED_ATTR, None)
    if fetched is None:
        return None
    planned, value = fetched
    if planned.key != key:
        return None
    setattr(request, _FETCHED_ATTR, None)
    return value


def release_unused(request) -> None:
    """After the view: give back the lease of a fetched read the view did not take (it answered an error)."""
    fetched = getattr(request, _FETCHED_ATTR, None)
    if fetched is not None:
        setattr(request, _FETCHED_ATTR, None)
        readthrough.release(fetched[0].key, fetched[1])


def _verify_with_database(request, user_id: int) -> dict | None:
    """The rare mismatch: let Django decide from the user row. It accepts a hash made with a key in
    SECRET_KEY_FALLBACKS (and upgrades it) and flushes the session when the hash is really wrong."""
    user = get_user(request)
    if not user.is_authenticated or user.pk != user_id:
        request.session.flush()  # inactive or wrong hash: this session is over
        return None
    return payloads.identity(user_id)
