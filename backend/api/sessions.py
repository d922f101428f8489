"""Sessions that stay ended, whatever Redis did (issue 12, item 1): the session engine (SESSION_ENGINE) and the
receivers that end a user's sessions when their password or active flag changes.

The hit path (api.identity, api.fast_path) decides from two Redis entries in ONE round trip: the cached_db session
and the user's identity (its auth hash and is_active). It cannot ask the database, so an ended session must not
leave either entry behind. Django's cached_db deletes the session row and then the cache entry, and the cache
alias ignores Redis errors (a Redis outage must degrade to the database, not to 500s): during an outage the row
was gone, the entry stayed, and once Redis was back on the same data the old cookie worked again for the
session's age. Likewise a password change or a deactivation committed while Redis was down left the old
identity cached until the outbox event that drops it was applied, by a worker that may itself be down.

What is done instead: ending a session is refused unless Redis confirms. SessionStore.delete() removes the row
and the cache entry in one database transaction, the cache entry with a client that raises on a Redis error;
if Redis does not confirm, the row delete is rolled back and SessionEndFailed is raised (the API answers 503:
the session goes on, visibly, and can be ended again). An anonymous session (its row holds no logged-in user) is
deleted as cached_db deletes it: it cannot come back as a logged-in one, and a login cycling it must not wait
for Redis. This covers every way a session ends: logout (flush),
the key rotated or flushed at login, the key cycled by update_session_auth_hash after a password change.
A user's other sessions end when their password (hence their sessions' auth hash) or their is_active changes:
a pre_save/pre_delete receiver drops the user's cached identity in the same transaction, and refuses the
change (SessionEndFailed) when Redis does not confirm. The hit path's next read then misses the identity,
computes it from the database, and the old session fails the hash or active check. (A request reading the
identity between that drop and the commit may cache the old one again; the user's outbox event drops it after
the commit, as for every cached value.)

Why this and not the alternatives: it costs the hit path nothing (it still reads the same two entries in one
round trip); a revocation list or an auth epoch checked on every hit would have to live in Redis to be read
in that round trip, so writing it would need Redis just as the delete does, and one kept in the database
would cost every hit a query. Failing closed costs only the rare logout, password change or deactivation
attempted during a Redis outage, which is answered with a clear 503 instead of a false success.

The cache entry is deleted again after the commit: a request loading the session between the first delete and
the commit could have put the still-visible row back in the cache.
"""

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.backends import cached_db
from django.core.cache import caches
from django.db import router, transaction
from django.db.models.signals import pre_delete, pre_save
from django_redis.cache import RedisCache
from redis.exceptions import RedisError

from eventcache.store import readthrough
from planner import cache as planner_cache

AUTH_FIELDS = ("password", "is_active")  # a change of either ends the user's sessions


class SessionEndFailed(Exception):
    """A session (or a user's sessions) could not be ended because Redis did not confirm; nothing was changed."""


def _delete_confirmed(alias: str, name: str) -> None:
    """Delete cache entry `name` of cache `alias`, raising RedisError when Redis does not confirm. The alias's
    own delete() would ignore the error (IGNORE_EXCEPTIONS); its raw client, django-redis's public way to
    Redis, does not."""
    cache = caches[alias]
    if isinstance(cache, RedisCache):
        from django_redis import get_redis_connection

        get_redis_connection(alias).delete(cache.make_key(name))
    else:  # a local cache (no Redis configured) cannot fail
        cache.delete(name)


class SessionStore(cached_db.SessionStore):
    """cached_db, whose delete() ends a logged-in session in the database and in Redis together, or not at all."""

    def delete(self, session_key=None):
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        name = self.cache_key_prefix + session_key
        try:
            with transaction.atomic(using=router.db_for_write(self.model)):
                row = self.model.objects.filter(session_key=session_key).first()
                if row is not None:
                    row.delete()
                # A session that never logged anyone in (an anonymous one, cycled at login) cannot come back as
                # one that does: its cache entry is deleted as cached_db does, so an outage does not stop a login.
                confirm = row is None or SESSION_KEY in self.decode(row.session_data)
                if confirm:
                    _delete_confirmed(settings.SESSION_CACHE_ALIAS, name)
                else:
                    self._cache.delete(name)
            if confirm:
                _delete_confirmed(settings.SESSION_CACHE_ALIAS, name)  # see the module doc
        except RedisError as exc:
            raise SessionEndFailed(f"Redis did not confirm the end of the session: {exc}") from exc


def _drop_identity_confirmed(user_id: int) -> None:
    try:
        readthrough.cache_ops().invalidate([planner_cache.identity(user_id)])
    except RedisError as exc:
        raise SessionEndFailed(f"Redis did not confirm the end of user {user_id}'s sessions: {exc}") from exc


def _auth_fields_change(sender, instance, update_fields=None, raw=False, **kwargs) -> None:
    """pre_save of the user model: a new password or is_active ends the user's sessions (see the module doc)."""
    if raw or instance.pk is None or (update_fields is not None and not set(AUTH_FIELDS) & set(update_fields)):
        return
    before = sender._default_manager.filter(pk=instance.pk).values(*AUTH_FIELDS).first()
    if before is not None and any(before[field] != getattr(instance, field) for field in AUTH_FIELDS):
        _drop_identity_confirmed(instance.pk)


def _user_deleted(sender, instance, **kwargs) -> None:
    _drop_identity_confirmed(instance.pk)


def connect() -> None:
    """Called from api's AppConfig.ready()."""
    user_model = get_user_model()
    pre_save.connect(_auth_fields_change, sender=user_model, dispatch_uid="api.sessions.auth_fields_change")
    pre_delete.connect(_user_deleted, sender=user_model, dispatch_uid="api.sessions.user_deleted")
