"""The engine's Django app. Its label stays "events": the events_outbox table and the migration history keep
their names from when the outbox lived in an app called `events`.

ready() loads the domain settings.EVENTCACHE_DOMAIN names (a dotted module path with a DOMAIN, e.g.
"planner.cache"): the engine learns what it caches from there, and never imports the domain itself.
"""

import logging

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate

log = logging.getLogger("eventcache")


def startup_message() -> tuple[int, str]:
    """(log level, message) saying which cache this process uses; never shows a password."""
    from eventcache.redis_url import cache_url, mask

    if settings.REDIS_CLUSTER_URL:
        return logging.INFO, f"✅ Redis Cluster cache configured: {mask(settings.REDIS_CLUSTER_URL)}"
    if settings.REDIS_URL:
        return logging.INFO, f"✅ Redis cache configured: {mask(cache_url(settings.REDIS_URL))}"
    return logging.WARNING, (
        "REDIS_URL is not set: falling back to a local-memory cache (per process, not shared), "
        "and events are processed inline in the web process instead of by a Celery worker. "
        "Set REDIS_URL=redis://host:6379/0 to use Redis."
    )


class EventCacheConfig(AppConfig):
    name = "eventcache"
    label = "events"
    verbose_name = "Event-driven cache"

    def ready(self):
        from django.db import connections

        from eventcache import declare
        from eventcache.relay import commit, recovery, watcher
        from eventcache.store import readthrough

        domain_module = getattr(settings, "EVENTCACHE_DOMAIN", "")
        if not domain_module:
            raise ImproperlyConfigured("EVENTCACHE_DOMAIN must name the module declaring what is cached (its DOMAIN)")
        declare.load(domain_module)
        log.log(*startup_message())

        # Every database connection notices writes to captured tables and flushes the outbox on commit.
        connection_created.connect(watcher.install, dispatch_uid="events.write_watcher")
        for connection in connections.all(initialized_only=True):
            watcher.install(connection=connection)

        # In a request, delivery waits until the response has been sent (relay.commit.after_commit). It runs before
        # Django's close_old_connections, so it uses the request's connection (not a new one, and without the
        # health-check ping close_old_connections asks for on the next use); Django's test client reorders the
        # same receiver the same way.
        request_started.connect(commit.request_started, dispatch_uid="events.request_started")
        request_finished.disconnect(close_old_connections)
        request_finished.connect(commit.request_finished, dispatch_uid="events.request_finished")
        request_finished.connect(close_old_connections)

        post_migrate.connect(reinstall_triggers, sender=self, dispatch_uid="events.reinstall_triggers")

        # When Redis answers again after an outage, pending events are applied before anything is read.
        readthrough.register_recovery_callback(recovery.recover_after_outage)


def reinstall_triggers(using="default", **kwargs):
    """After every migrate: SQLite drops a table's triggers when a later migration rebuilds the table."""
    from django.db import connections

    from eventcache.capture import triggers

    connection = connections[using]
    if triggers.OUTBOX_TABLE in connection.introspection.table_names() and triggers.missing_triggers(connection):
        triggers.install(connection)
