"""LOG_FORMAT=json: a write is followed from its request's log line to the worker batch that applied it by one
request id (the client's X-Request-ID, echoed back), across a live gunicorn and a Celery worker subprocess; every
request gets a line, fast-path hits included, and an id of its own when the client sent none (or a bad one)."""

import json

import pytest

from tests.fixtures.worker import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.worker]

PASSWORD = "a long enough logging password"


def _json_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue  # gunicorn's own access and error lines, Celery's banner
        if isinstance(value, dict):
            lines.append(value)
    return lines


@pytest.mark.django_db(transaction=True)
def test_a_write_is_followed_from_its_request_to_the_worker_batch(live_server_factory, start_worker_process):
    from django.contrib.auth import get_user_model

    from planner.models import Recipe

    user = get_user_model().objects.create_user(username="tracer", password=PASSWORD)
    recipe = Recipe.objects.create(author=user, title="Traced soup")
    worker = start_worker_process(LOG_FORMAT="json")
    server = live_server_factory(workers=2, LOG_FORMAT="json")
    client = server.session("tracer", PASSWORD)

    status, _ = client.request(
        "PATCH", f"/api/recipes/{recipe.id}/", {"title": "Traced stew"}, {"X-Request-ID": "trace-15"}
    )
    assert status == 200

    def batch_line():
        return next(
            (
                line
                for line in _json_lines(worker.log())
                if line.get("logger") == "observe.batch" and line.get("request_id") == "trace-15"
            ),
            None,
        )

    assert wait_until(lambda: batch_line() is not None, 30, 0.2), worker.log()[-3000:]
    batch = batch_line()
    assert batch["events"] >= 1 and batch["outbox_ids"] and batch["level"] == "INFO"
    # Every line the batch logged carries the id (the engine's own "batch: ..." line too).
    assert any(
        line.get("logger") == "eventcache.tasks" and line.get("request_id") == "trace-15"
        for line in _json_lines(worker.log())
    )

    for _ in range(2):  # a miss through Django, then (usually) a hit answered by api.fast_path: each gets a line
        client.request("GET", f"/api/recipes/{recipe.id}/")
    client.request("GET", "/api/me/", headers={"X-Request-ID": "bad id with spaces"})

    def requests():
        return [line for line in _json_lines(server.log()) if line.get("logger") == "observe.request"]

    def all_logged():  # two gunicorn workers write their lines independently: wait for each expected one
        paths = [line["path"] for line in requests()]
        return paths.count(f"/api/recipes/{recipe.id}/") >= 3 and "/api/me/" in paths

    assert wait_until(all_logged, 10, 0.1), server.log()[-3000:]
    lines = requests()
    patch = next(line for line in lines if line["request_id"] == "trace-15")
    assert (patch["method"], patch["path"], patch["status"]) == ("PATCH", f"/api/recipes/{recipe.id}/", 200)
    gets = [line for line in lines if line["method"] == "GET" and line["path"] == f"/api/recipes/{recipe.id}/"]
    assert len(gets) == 2 and all(len(line["request_id"]) == 32 for line in gets)  # ids of their own
    me = next(line for line in lines if line["path"] == "/api/me/")
    assert me["request_id"] != "bad id with spaces" and len(me["request_id"]) == 32


@pytest.mark.django_db(transaction=True)
def test_the_response_names_its_request_id(live_server_factory):
    import urllib.request

    server = live_server_factory(workers=1, LOG_FORMAT="json")
    request = urllib.request.Request(f"{server.url}/healthz", headers={"X-Request-ID": "abc-1"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["X-Request-ID"] == "abc-1"
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=10) as response:
        assert len(response.headers["X-Request-ID"]) == 32
