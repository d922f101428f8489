"""The durable event store (a transactional outbox).

Rows are written by database triggers (eventcache/capture/triggers.py) in the same transaction as the change they
describe, so a committed change always has its event and a rolled-back one never does. The relay
(eventcache/relay/) marks a row sent when it hands the event to Redis, the worker's pub/sub listener marks it
dropped when it dropped the keys the event touches, and the worker's task marks it processed when the cache
has applied it; the sweep re-sends what was not confirmed and prunes what was.
"""

from django.db import models
from django.db.models import Func
from django.db.models.functions import Now


class BackendPid(Func):
    """The writing connection's PostgreSQL backend pid (NULL elsewhere): lets a web process find the rows its
    own commits wrote with one indexed look-up (eventcache/relay/), without seeing other processes' rows."""

    template = "pg_backend_pid()"
    output_field = models.IntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return "NULL", []


class CurrentXid(Func):
    """The writing transaction's id (PostgreSQL's xid8 as a bigint; NULL elsewhere): an event carries it so the
    invalidation can tell values computed after the write committed from those computed before
    (eventcache/store/lua/invalidate_seen.lua)."""

    template = "pg_current_xact_id()::text::bigint"
    output_field = models.BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return "NULL", []


class OutboxEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=64)  # an eventcache.events kind, e.g. "recipe.changed"
    data = models.JSONField()  # that kind's data fields, e.g. {"recipe_id": 42}
    created_at = models.DateTimeField(db_default=Now())  # set by the database: triggers insert rows too
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(db_default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    # When the worker's pub/sub listener dropped every key the event touches, on publish (eventcache/consume/listener.py);
    # NULL when it did not (it missed the message, the drop failed, or a batch held the row): the task covers it.
    dropped_at = models.DateTimeField(null=True, blank=True)
    writer_pid = models.IntegerField(null=True, blank=True, db_default=BackendPid())
    xid = models.BigIntegerField(null=True, blank=True, db_default=CurrentXid())

    class Meta:
        db_table = "events_outbox"
        ordering = ["id"]
        indexes = [
            # The relay and the sweep only ever look at unprocessed rows; processed ones wait to be pruned.
            models.Index(
                fields=["id"], condition=models.Q(processed_at__isnull=True), name="events_outbox_unprocessed"
            ),
            # The writer's after-commit look-up of its own rows, and the relay's claim: the few rows nobody sent yet.
            models.Index(
                fields=["writer_pid", "id"],
                condition=models.Q(sent_at__isnull=True, processed_at__isnull=True),
                name="events_outbox_unsent_by_writer",
            ),
            models.Index(
                fields=["processed_at"], condition=models.Q(processed_at__isnull=False), name="events_outbox_processed"
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.data} #{self.id}"
