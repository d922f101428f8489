"""The chaos soak's checker and markers (chaos/check.py, chaos/load.py): pure logic on made-up histories, so a
soak that reports 0 stale reads is known to be able to report more."""

import datetime as dt

from chaos.check import LAG_BOUND, check
from chaos.faults import Window
from chaos.load import Read, World, Write, observe, plan_servings, plan_version


def write(version, ended, status=200, source="recipe:1"):
    return Write(source, version, ended - 0.01, ended, status)


def read(started, version, source="recipe:1"):
    return Read("recipe 1", "demo", started, started + 0.01, 200, "HIT", {source: version}, b"{}")


def kinds(result):
    return [verdict.kind for _, verdict in result.verdicts]


def test_a_read_is_fresh_lagging_or_stale_by_how_long_its_version_was_out_of_date():
    writes = [write(0, 0.0), write(1, 10.0)]
    reads = [read(9.0, 0), read(11.0, 1), read(12.0, 0), read(10.0 + LAG_BOUND + 1, 0)]
    result = check(writes, reads, [])
    assert kinds(result) == ["fresh", "fresh", "lagging", "STALE"]
    assert abs(result.longest_stale[0] - 1.0) < 0.05


def test_the_bound_starts_when_the_last_fault_around_the_write_ended():
    writes = [write(0, 0.0), write(1, 10.0)]
    windows = [Window("worker", 9.0, 20.0)]
    reads = [read(15.0, 0), read(24.0, 0), read(26.0, 0)]
    assert kinds(check(writes, reads, windows)) == ["in-fault", "lagging", "STALE"]


def test_an_unanswered_write_counts_once_a_read_showed_it_and_a_4xx_write_never_commits():
    # v1 got no answer: it committed (a read shows it) by the time the client gave up at 10.0 at the latest.
    # v3 got no answer either and no read shows it: it may never have committed, so v2 is not out of date.
    writes = [write(0, 0.0), write(1, 10.0, status=0), write(2, 11.0, status=400), write(3, 12.0, status=0)]
    reads = [read(12.0, 0), read(13.0, 1), read(30.0, 0), read(31.0, 2), read(40.0, 1)]
    assert kinds(check(writes, reads, [])) == ["lagging", "fresh", "STALE", "phantom", "fresh"]


def test_errors_count_against_the_stack_only_outside_fault_windows():
    errors = [
        Read("recipe 1", "demo", t, t + 0.01, status, "", None, b"")
        for t, status in ((5.0, 502), (30.0, 0), (50.0, 500))
    ]
    result = check([], errors, [Window("web", 4.0, 6.0), Window("redis", 28.0, 29.0)])
    assert result.errors_inside == 2
    assert [(what, at, status) for what, at, status in result.errors_outside] == [("read", 50.0, 500)]


def test_bodies_give_back_the_versions_written_into_them():
    world = World(day=dt.date(2030, 1, 1), recipe_ids={1: 11, 2: 12, 3: 13, 4: 14}, list_ids={"demo": 5, "alex": 6})
    a, b = plan_servings(234)
    assert plan_version(a, b) == 234
    plan = {
        "entries": [
            {"servings": a, "recipe": {"id": 11, "title": "chaos r1 v7"}},
            {"servings": b, "recipe": {"id": 12, "title": "chaos r2 v3"}},
        ]
    }
    assert observe(world, "demo", "meal plan", plan) == {"recipe:1": 7, "recipe:2": 3, "plan:demo": 234}
    shopping = {
        "id": 5,
        "items": [
            {"ingredient": "chaos r1 v6", "quantity": str(a)},
            {"ingredient": "chaos r2 v3", "quantity": b},
            {"ingredient": "chaos mdemo v4", "quantity": 1},
            {"ingredient": "chaos mdemo v9", "quantity": 1},
        ],
    }
    expected = {"recipe:1": 6, "recipe:2": 3, "plan:demo": 234, "manual:demo": 9}
    assert observe(world, "demo", "shopping list", shopping) == expected
    assert observe(world, "demo", "meal plan", {"entries": []}) is None  # a plan without its entries is malformed


def test_the_stack_commands_come_from_the_procfile_and_run_through_the_shell(tmp_path):
    import os
    import subprocess

    from chaos import procs

    procfile = tmp_path / "Procfile"
    procfile.write_text(
        "release: python backend/manage.py migrate\n"
        "web: gunicorn config.wsgi --chdir backend --bind 127.0.0.1:${PORT:-8000}\n"
        "worker: celery -A worker.celery_app worker\n"
        "beat: celery -A worker.celery_app beat\n"
    )
    found = procs.commands(1234, ".venv", procfile)
    assert sorted(found) == ["beat", "web", "worker"]
    echo = found["web"].replace("gunicorn config.wsgi --chdir backend --bind", "echo")
    done = subprocess.run(procs.argv(echo), env=dict(os.environ, PORT="1234"), capture_output=True, text=True)
    assert done.stdout.strip() == "127.0.0.1:1234"
