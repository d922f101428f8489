"""A Redis outage around writes (issue 4, item 5), against a redis-server this test starts and stops.

While Redis is down: reads answer 200 from the database, writes succeed with their events waiting in the
outbox, /healthz answers 503 naming Redis, and the logged-in session keeps working. The server keeps its
data on disk (append-only file), so after the restart the entry cached before the outage really is
there again, stale; the web process's first read after Redis returns applies the waiting events
(eventcache.relay.recovery.recover_after_outage) before serving anything from the cache, so it is never served.
"""

import datetime as dt

import pytest

from eventcache.models import OutboxEvent
from eventcache.store import ops
from planner import cache as planner_cache
from tests.factories import FamilyFactory, MealPlanFactory, RecipeFactory, UserFactory
from tests.fixtures.worker import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-outage-123456"
OLD_TITLE, NEW_TITLE = "Before the outage", "Written during the outage"
DELIVERY_SECONDS = 10


@pytest.fixture
def cook():
    family = FamilyFactory(name="Cooks")
    user = UserFactory(username="cook", password=PASSWORD, family=family)
    recipe = RecipeFactory(author=user, title=OLD_TITLE)
    plan = MealPlanFactory(family=family, date=dt.date(2030, 3, 4), entries=[(recipe, 4)])
    return user, recipe, plan


def test_reads_writes_sessions_and_health_through_an_outage_and_nothing_stale_after(
    cook, redis_server, start_web_process
):
    user, recipe, plan = cook
    redis_server.start()
    raw = redis_server.client()
    web = start_web_process(REDIS_URL=redis_server.url)
    client = web.session()
    client.login(user.username, PASSWORD)
    recipe_path, plan_path = f"/api/recipes/{recipe.id}/", f"/api/meal-plans/{plan.date.isoformat()}/"
    for path in (recipe_path, plan_path):
        client.request("GET", path)
        status, headers, _ = client.request("GET", path)
        assert status == 200 and headers["X-Cache"] == "HIT"
    recipe_key, plan_key = (
        ops.full_name(k.name)
        for k in (planner_cache.recipe(recipe.id), planner_cache.meal_plan(plan.date, plan.family_id))
    )
    assert OLD_TITLE.encode() in raw.get(recipe_key) and OLD_TITLE.encode() in raw.get(plan_key)
    OutboxEvent.objects.update(processed_at=dt.datetime.now(dt.UTC))  # the set-up's events are not this test's

    redis_server.stop()

    status, headers, body = client.request("GET", recipe_path)
    assert (status, body["title"]) == (200, OLD_TITLE)
    status, _, body = client.request("PATCH", recipe_path, {"title": NEW_TITLE})
    assert (status, body["title"]) == (200, NEW_TITLE)
    waiting = OutboxEvent.objects.filter(processed_at__isnull=True)
    assert list(waiting.values_list("kind", "data", "sent_at")) == [("recipe.changed", {"recipe_id": recipe.id}, None)]
    for path, title in ((recipe_path, NEW_TITLE), (plan_path, NEW_TITLE)):
        status, headers, body = client.request("GET", path)
        assert status == 200 and headers["X-Cache"] == "MISS"
        assert title in str(body)
    status, _, body = client.request("GET", "/healthz")
    assert status == 503 and body["redis"] == "down" and body["database"] == "ok"
    status, _, body = client.request("GET", "/api/me/")
    assert (status, body["username"]) == (200, user.username)  # the session survived (written through to the database)

    redis_server.start()
    # The restarted server really holds the entries cached before the outage.
    assert OLD_TITLE.encode() in raw.get(recipe_key) and OLD_TITLE.encode() in raw.get(plan_key)

    def read_fresh_until_delivered():
        for path in (recipe_path, plan_path):
            status, _, body = client.request("GET", path)
            assert status == 200 and NEW_TITLE in str(body) and OLD_TITLE not in str(body), (path, body)
        return not waiting.exists()  # delivered: the waiting event was applied and confirmed

    # Reads go to the database until the web process sees Redis answer again (it probes at most once a
    # second), then it applies the waiting events before its first cached read; never is the old title served.
    assert wait_until(read_fresh_until_delivered, DELIVERY_SECONDS, interval=0.1), web.log()
    assert raw.get(recipe_key) is None or OLD_TITLE.encode() not in raw.get(recipe_key)
    assert raw.get(plan_key) is None or OLD_TITLE.encode() not in raw.get(plan_key)
    status, _, body = client.request("GET", "/healthz")
    assert status == 200 and body == {"database": "ok", "redis": "ok"}
    client.request("GET", recipe_path)
    status, headers, body = client.request("GET", recipe_path)
    assert (status, headers["X-Cache"], body["title"]) == (200, "HIT", NEW_TITLE)  # the cache is back in use
