"""The listener comes back after a Redis outage, holding its role again (eventcache/consume/listener.py, lease.py).

A worker process holds the `listener` role and drops the keys of every published event. The Redis that is cache,
pub/sub and lease store (and broker) is stopped, once for less than the role's term (the lease survives in the
append-only file) and once for longer (it has expired by the time Redis is back), then started on the same data.
After each outage the same worker, still running, takes the role again and drops the keys of the next write on
publish: the write's outbox row gets its `dropped_at`, which only the listener sets (the Celery task sets
`processed_at`), within LISTENER_BACK_SECONDS of Redis answering. In between the task path applies the events, as
always, so nothing is stale; what the bound proves is that the fast path does not stay away for a doubled backoff
after a long outage (it reached 30 s: an 8 s outage left the listener away for about 7 s more).
"""

import time

import pytest

from eventcache.models import OutboxEvent
from tests.fixtures.worker import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456789"  # tests/fixtures/worker.py's users
TERM, RENEW = 2.0, 0.5  # the listener role's lease, short so that one outage outlasts it
OUTAGES = (1.0, 8.0)  # seconds Redis is down: within the term, then well past it and past a few doubled backoffs
LISTENER_BACK_SECONDS = 4.0  # from Redis answering to the next write's keys dropped on publish
WRITE_EVERY = 0.25


def _subscriptions(worker) -> int:
    return worker.log().count("pub/sub monitor subscribed")


def _dropped_on_publish_after(author, recipe_id: int, since: float, bound: float) -> float | None:
    """Write every WRITE_EVERY s until a write's outbox row has its dropped_at; the seconds from `since`, or None."""
    deadline = since + bound
    n = 0
    while time.monotonic() < deadline:
        n += 1
        status, _, _ = author.request("PATCH", f"/api/recipes/{recipe_id}/", {"title": f"After {since:.0f} #{n}"})
        if status == 200:
            latest = OutboxEvent.objects.filter(kind="recipe.changed").order_by("-id").first()
            if latest is not None and wait_until(
                lambda latest=latest: OutboxEvent.objects.filter(id=latest.id, dropped_at__isnull=False).exists(),
                WRITE_EVERY,
            ):
                return time.monotonic() - since
        else:
            time.sleep(WRITE_EVERY)
    return None


def test_the_listener_takes_its_role_again_after_redis_comes_back(
    world, redis_server, start_web_process, start_worker_process
):
    redis_server.start()
    env = {"REDIS_URL": redis_server.url, "TEST_REDIS_URL": redis_server.url}
    web = start_web_process(**env)
    worker = start_worker_process(
        EVENTS_DROP_ON_PUBLISH="1",
        EVENTS_LISTENER_LEASE_SECONDS=str(TERM),
        EVENTS_LISTENER_RENEW_SECONDS=str(RENEW),
        **env,
    )
    assert wait_until(lambda: _subscriptions(worker) == 1, 10), worker.log()[-3000:]
    author = web.session()
    author.login(world.recipe.author.username, PASSWORD)
    assert _dropped_on_publish_after(author, world.recipe.id, time.monotonic(), 10) is not None, worker.log()[-3000:]

    for seconds_down in OUTAGES:
        subscriptions = _subscriptions(worker)
        redis_server.stop()
        time.sleep(seconds_down)
        redis_server.start()
        back = time.monotonic()
        took = _dropped_on_publish_after(author, world.recipe.id, back, LISTENER_BACK_SECONDS)
        assert took is not None, (
            f"no write dropped on publish within {LISTENER_BACK_SECONDS} s of Redis answering "
            f"(after {seconds_down} s down)",
            worker.log()[-4000:],
        )
        print(f"\n{seconds_down} s down: the listener dropped a write's keys {took:.2f} s after Redis answered")
        assert _subscriptions(worker) > subscriptions
        assert worker.proc.poll() is None, worker.log()[-4000:]
