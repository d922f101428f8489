"""A write made around a worker's SIGKILL reaches its dependents within 5 s of a worker being ready (issue 12, item 3).

Each repetition: the dependents (meal plans of the three families that plan the recipe) are cached; the worker is
killed and the recipe written at once; a new worker is started; the time from its " ready." to the dependents being
fresh is measured. Two ways to kill, alternating:
- SIGKILL, then the write at once (the race of the issue: the dying consumer's pending BRPOP may take the message);
- SIGSTOP, the write, then SIGKILL (a frozen worker: its pending BRPOP is handed the message for certain, which is
  then lost with it - the same loss, made deterministic).
Nothing else delivers in between: no beat (so no sweep re-send), and the worker's pub/sub listener does not drop keys.
Without worker/backlog.py's step a lost message leaves the dependents stale until the sweep's re-send (30 s).
"""

import datetime as dt
import signal
import statistics
import threading
import time

import pytest

from planner import cache as planner_cache
from tests.fixtures.worker import outbox_drained, patch_recipe, raw_cache_value, wait_until, warm_reads

# About the Redis broker transport (its list, unacked hash or connection): the RabbitMQ session deselects it.
pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.redis_broker, pytest.mark.django_db(transaction=True)]

REPETITIONS = 20
BOUND_SECONDS = 5.0  # issue 12, item 3: within 5 s of a worker being available
UNFIXED_WAIT_SECONDS = BOUND_SECONDS + 3  # how long the contrast waits before calling a dependent stale


def _ready_at(log: str) -> float:
    """time.time() of the worker's " ready." line (its log's own timestamp, this machine's clock)."""
    line = next(line for line in log.splitlines() if line.endswith(" ready."))
    return dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def _plan_keys(world):
    return [planner_cache.meal_plan(world.day, family.id) for family in world.families]


def _fresh(conn, world, title: str) -> bool:
    for key in _plan_keys(world):
        value = raw_cache_value(conn, key)
        if value is not None and title.encode() not in value:
            return False
    return True


def _kill_and_write(worker, world, title: str, frozen: bool) -> None:
    if frozen:
        worker.signal(signal.SIGSTOP)
        patch_recipe(world.recipe, {"title": title})
        worker.signal(signal.SIGKILL)
    else:
        worker.signal(signal.SIGKILL)
        patch_recipe(world.recipe, {"title": title})
    worker.wait(10)


def _repetition(i, worker, world, start, broker_conn, redis_conn, wait_fresh: float):
    """Kill `worker`, write, start the next one; returns (next worker, lost, seconds from ready to fresh or None,
    seconds from the restart to fresh or None)."""
    warm_reads(world)
    assert all(raw_cache_value(redis_conn, key) is not None for key in _plan_keys(world))
    title = f"Written around kill {i}"
    _kill_and_write(worker, world, title, frozen=bool(i % 2))
    # Lost: neither on the queue nor unacked, but its rows unapplied.
    lost = broker_conn.llen("cache") == 0 and broker_conn.hlen("unacked") == 0 and not outbox_drained()

    fresh_at: list[float] = []

    def watch():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not fresh_at:
            if _fresh(redis_conn, world, title):
                fresh_at.append(time.time())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    restarted = time.time()
    new = start()
    ready = _ready_at(new.log())
    watcher.join(max(0.0, ready + wait_fresh - time.time()))
    after_ready = (fresh_at[0] - ready) if fresh_at else None
    after_restart = (fresh_at[0] - restarted) if fresh_at else None
    # The next repetition starts from a drained outbox and an idle worker.
    assert wait_until(outbox_drained, 60), new.log()[-3000:]
    watcher.join(120)
    return new, lost, after_ready, after_restart


def test_a_write_around_a_worker_kill_reaches_its_dependents_within_5_s_of_a_new_worker(
    world, start_worker_process, broker_conn, redis_conn
):
    worker = start_worker_process()
    assert wait_until(outbox_drained, 30)
    results = []
    for i in range(REPETITIONS):
        worker, lost, after_ready, after_restart = _repetition(
            i, worker, world, start_worker_process, broker_conn, redis_conn, BOUND_SECONDS
        )
        results.append((lost, after_ready, after_restart))

    def summary(column: int) -> str:
        values = [r[column] for r in results]
        known = [v for v in values if v is not None]
        shown = ", ".join("-" if v is None else f"{v:.2f}" for v in values)
        return f"{shown} (median {statistics.median(known):.2f}, max {max(known):.2f})" if known else shown

    print(
        f"\n{REPETITIONS} kills, {sum(r[0] for r in results)} message(s) lost with the dying worker"
        f"\nready -> fresh, s (negative: fresh before ready): {summary(1)}"
        f"\nrestart -> fresh, s: {summary(2)}"
    )
    late = [(i, r[1]) for i, r in enumerate(results) if r[1] is None or r[1] > BOUND_SECONDS]
    assert not late, late


def test_without_the_backlog_step_a_lost_message_leaves_dependents_stale(
    world, start_worker_process, broker_conn, redis_conn
):
    def start():
        return start_worker_process(app="tests.faults.worker_without", WORKER_WITHOUT="ApplyBacklog")

    worker = start()
    assert wait_until(outbox_drained, 30)
    warm_reads(world)
    title = "Written around a frozen kill"
    _kill_and_write(worker, world, title, frozen=True)
    assert broker_conn.llen("cache") == 0 and broker_conn.hlen("unacked") == 0, "the message was not lost"
    start()
    time.sleep(UNFIXED_WAIT_SECONDS)
    assert not _fresh(redis_conn, world, title)
    assert not outbox_drained()
