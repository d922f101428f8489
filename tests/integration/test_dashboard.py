"""The dashboard's server side against the real Redis and database: who may look, the numbers it reports, and the
event stream's bounds (it ends by itself, after max_events or max_seconds, and always unsubscribes)."""

import json
import threading
import time

import pytest
from django.conf import settings
from django.test import Client
from observe import snapshot, stream

pytestmark = [pytest.mark.integration]


def _subscribers(conn) -> int:
    return dict(conn.pubsub_numsub(settings.EVENTS_CHANNEL))[settings.EVENTS_CHANNEL.encode()]


def _publish_later(conn, messages, delay=0.2):
    def run():
        time.sleep(delay)
        for message in messages:
            conn.publish(settings.EVENTS_CHANNEL, message)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.single_redis  # counts subscribers with PUBSUB NUMSUB, which a cluster answers per node
def test_the_stream_forwards_events_skips_garbage_and_ends_after_max_events(redis_conn):
    pubsub = stream.subscribe()
    assert _subscribers(redis_conn) == 1
    event = {"v": 1, "id": 7, "kind": "recipe.changed", "at": time.time(), "data": {"recipe_id": 3}}
    publisher = _publish_later(redis_conn, [b"not json", json.dumps(event), json.dumps(event | {"id": 8})])
    frames = list(stream.events(pubsub, max_seconds=10, max_events=2))
    publisher.join()
    body = "".join(frames)
    assert body.startswith("retry: ")
    assert 'id: 7\nevent: outbox\ndata: {"v":1,"id":7,"kind":"recipe.changed"' in body
    assert "id: 8\n" in body and "not json" not in body
    assert frames[-1] == 'event: end\ndata: {"reason":"max_events","events":2}\n\n'
    assert _subscribers(redis_conn) == 0  # unsubscribed on the way out


@pytest.mark.single_redis  # counts subscribers with PUBSUB NUMSUB, which a cluster answers per node
def test_the_stream_ends_after_max_seconds_and_unsubscribes_when_the_client_leaves(redis_conn):
    started = time.monotonic()
    frames = list(stream.events(stream.subscribe(), max_seconds=0.5, max_events=100))
    assert time.monotonic() - started < 3
    assert frames[-1] == 'event: end\ndata: {"reason":"max_seconds","events":0}\n\n'
    # A client that goes away: the server stops reading the generator and closes it (as gunicorn does).
    frames = stream.events(stream.subscribe(), max_seconds=30, max_events=100)
    next(frames)
    assert _subscribers(redis_conn) == 1
    frames.close()
    assert _subscribers(redis_conn) == 0


@pytest.mark.django_db
def test_only_staff_get_the_dashboard(redis_conn, make_user):
    anonymous = Client()
    page = anonymous.get("/dashboard/")
    assert page.status_code == 302 and page["Location"].startswith("/admin/login/?next=/dashboard/")
    assert anonymous.get("/dashboard/data/").status_code == 401

    make_user("cook")
    cook = Client()
    cook.login(username="cook", password="correct horse battery staple")
    assert cook.get("/dashboard/").status_code == 403
    data = cook.get("/dashboard/data/")
    assert data.status_code == 403 and data.json() == {"error": "forbidden", "detail": "staff only"}
    assert cook.get("/dashboard/events/").status_code == 403

    make_user("boss", is_staff=True)
    boss = Client()
    boss.login(username="boss", password="correct horse battery staple")
    assert boss.get("/dashboard/").status_code == 200
    data = boss.get("/dashboard/data/").json()
    assert {"families", "outbox", "hot_lists", "redis", "counters"} <= data.keys()
    assert data["redis"]["dbsize"] >= 1 and "used_memory_human" in data["redis"]


@pytest.mark.django_db
def test_the_hottest_pages_of_shopping_lists_say_whose_and_which_page(redis_conn, make_user):
    from eventcache.store import hotness
    from planner import cache
    from tests.factories import ShoppingListFactory

    cook = make_user("cook")
    ShoppingListFactory(owner=cook)
    for page, reads in ((2, 3), (1, 1)):
        for _ in range(reads):
            hotness.record(cache.shopping_lists(cook.id, page))
    assert [(h["username"], h["page"], h["lists"]) for h in snapshot.collect()["hot_lists"]] == [
        ("cook", 2, 1),
        ("cook", 1, 1),
    ]


@pytest.mark.django_db
def test_the_window_hit_ratio_counts_only_what_happened_inside_the_window(redis_conn, settings):
    from observe.engine import stats

    stats.incr("recipe:hits", 5)
    first = snapshot.collect()
    assert first["families"]["recipe"]["hits"] == 5 and first["families"]["recipe"]["window_hit_ratio"] is None
    time.sleep(snapshot.SAMPLE_EVERY_SECONDS)
    stats.incr("recipe:hits", 3)
    stats.incr("recipe:misses", 1)
    second = snapshot.collect()["families"]["recipe"]
    assert (second["window_hits"], second["window_misses"], second["window_hit_ratio"]) == (3, 1, 0.75)


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert [snapshot.percentile(values, p) for p in (50, 95, 99)] == [50, 95, 99]
    assert snapshot.percentile([], 50) is None
