"""gunicorn entry for the write-overhead baseline (`bench.wsgi_events_off:application`): the project's own WSGI
app with the relay's write watcher disconnected, so no commit flushes the outbox. The capture triggers are
disabled separately (bench/write_overhead.py), so "off" is the write without events and durability.

The project has no setting for this; a setting such as EVENTS_RELAY_ENABLED would make this module unneeded."""

from django.db.backends.signals import connection_created

from config.wsgi import application  # noqa: F401  (sets Django up)

connection_created.disconnect(dispatch_uid="events.write_watcher")
