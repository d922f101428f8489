"""K = 3 real worker processes (the production command: `celery -A worker.celery_app worker`, prefork pool) and a
burst of writes (issue 14, item 3): each event's dependents are looked up once by a listener (the listener role's
holder, eventcache/consume/lease.py), not three times, and each outbox row is applied by exactly one task (the
batch claim's FOR UPDATE SKIP LOCKED, eventcache/consume/apply.py). Counted, not assumed: the engine's
`dependents_lookups:{listener,task,writer}` counters (eventcache/stats.py).

Shown to fail without the role: with EVENTS_LISTENER_LEASE_SECONDS=0 the listener count is 3 per event. It also
caught prefork children forked while the listener's thread held an import lock (worker/celery_app.py): their tasks
hung and rows stayed unapplied.

The backlog each (re)starting worker applies (worker/backlog.py) is claimed the same way: three workers starting
together on a backlog whose messages were lost apply each row once between them."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from eventcache import stats
from eventcache.consume.listener import DROPPED
from eventcache.models import OutboxEvent
from planner.models import Recipe
from tests.factories import RecipeFactory
from tests.fixtures.listener_role import counter, role_holder_pid, write_in_a_request
from tests.fixtures.worker import outbox_drained, unprocessed_outbox_ids, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKERS = 3
WRITES = 60
DRAIN_SECONDS = 60  # three prefork workers and this test on a busy 2-core machine


@pytest.fixture
def recipes(family_world, broker_conn, redis_conn):
    """WRITES recipes, one per write, so no two events of the burst are the same event (the batch de-duplicates
    equal events: each applied event is then one outbox row). Their own set-up events are done with."""
    from django.utils import timezone

    made = [RecipeFactory(author=family_world["alice"], title=f"Recipe {i}") for i in range(WRITES)]
    OutboxEvent.objects.update(processed_at=timezone.now())
    broker_conn.flushdb()
    redis_conn.flushdb()
    return made


def test_three_workers_look_each_event_up_once_on_publish_and_apply_each_row_once(
    recipes, start_worker_process, settings, redis_conn
):
    workers = [start_worker_process(pool="prefork", EVENTS_DROP_ON_PUBLISH="1") for _ in range(WORKERS)]
    pids = {w.proc.pid for w in workers}
    assert wait_until(lambda: role_holder_pid() in pids, 10), "no worker took the listener role"
    first_id = (OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    # What was published, seen by one more subscriber: the relay publishes at least once (a row a worker was applying
    # when its writer marked it sent can be published again by that writer's next request).
    observer = redis_conn.pubsub(ignore_subscribe_messages=True)  # the cache's Redis: one server or the cluster
    observer.subscribe(settings.EVENTS_CHANNEL)

    for recipe in recipes:
        write_in_a_request(recipe.id, f"{recipe.title} (edited)")

    events = OutboxEvent.objects.filter(id__gte=first_id).count()
    assert events >= WRITES
    assert wait_until(outbox_drained, DRAIN_SECONDS), _undrained(workers)
    published = _count_messages(observer)
    assert published >= events
    assert wait_until(lambda: counter(DROPPED) >= published, 10)
    counts = stats.snapshot()
    assert counts.get(stats.lookups("listener"), 0) == published  # one listener of three looked each message up
    assert counts.get(stats.EVENTS_SEEN, 0) == published
    assert counts.get(stats.lookups("task"), 0) == events  # each row applied by one task, once
    assert counts.get(stats.lookups("writer"), 0) == 0
    assert sum("listener role taken" in w.log() for w in workers) == 1
    assert all(w.proc.poll() is None for w in workers)
    assert Recipe.objects.filter(title__endswith="(edited)").count() == WRITES


def _count_messages(pubsub) -> int:
    count, quiet_since = 0, time.monotonic()
    while time.monotonic() - quiet_since < 1.0:
        if pubsub.get_message(timeout=0.2) is not None:
            count, quiet_since = count + 1, time.monotonic()
    pubsub.close()
    return count


@pytest.mark.redis_broker  # worker/backlog.py is the Redis transport's (RabbitMQ requeues instead)
def test_workers_starting_together_share_a_lost_backlog_without_applying_a_row_twice(
    recipes, start_worker_process, broker_conn
):
    for recipe in recipes:
        write_in_a_request(recipe.id, f"{recipe.title} (edited)")
    broker_conn.flushdb()  # every message lost: the rows are delivered but nobody will apply them
    backlog = OutboxEvent.objects.filter(processed_at__isnull=True, sent_at__isnull=False).count()
    assert backlog >= WRITES

    # Each worker's start-up batch takes a third of it (WORKER_COALESCE_MAX_ROWS): together they drain it exactly
    # when no row went to two of them.
    share = -(-backlog // WORKERS)
    with ThreadPoolExecutor(WORKERS) as pool:
        workers = list(pool.map(lambda _: start_worker_process(WORKER_COALESCE_MAX_ROWS=share), range(WORKERS)))

    assert wait_until(outbox_drained, DRAIN_SECONDS), _undrained(workers)
    # A worker counts its look-ups and logs its batch after the commit that marks the rows processed: wait for both.
    assert wait_until(lambda: counter(stats.lookups("task")) >= backlog, 10)
    assert counter(stats.lookups("task")) == backlog
    applied_line = "delivered outbox row(s) nobody had applied"
    assert wait_until(lambda: sum(applied_line in w.log() for w in workers) == WORKERS, 10), [w.log() for w in workers]


def _undrained(workers) -> str:
    rows = list(
        OutboxEvent.objects.filter(id__in=unprocessed_outbox_ids()).values("id", "kind", "sent_at", "created_at")
    )
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT pid, state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        sessions = cur.fetchall()
    return f"unapplied rows: {rows}\nsessions: {sessions}\n" + "\n".join(w.log()[-2000:] for w in workers)
