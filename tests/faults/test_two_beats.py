"""Beat stays exactly one (issue 14, item 3): two real `celery -A worker.celery_app beat` processes, as the Procfile
runs beat, on the same Redis and broker. Only the one holding the `beat` role (eventcache/beat.py) sends periodic
tasks; the other logs that it stands by and sends nothing; SIGKILL the holder and the other sends within the role's
term + renew interval + 1 s. Shown to fail with CELERY_BEAT_SCHEDULER=celery.beat:Scheduler (both send)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.fixtures.listener_role import role_holder_pid
from tests.fixtures.worker import REPO_DIR, WORKER_START_SECONDS, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.worker]

TERM, RENEW, SWEEP_EVERY = 2.0, 0.5, 0.5
SENT = "Scheduler: Sending due task"
STANDING_BY = "another beat holds the beat role"


class Beat:
    def __init__(self, tmp_path, n: int):
        self.log_path = tmp_path / f"beat-{n}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.test_settings",
            "PYTHONUNBUFFERED": "1",
            "BEAT_LEASE_SECONDS": str(TERM),
            "BEAT_RENEW_SECONDS": str(RENEW),
            "OUTBOX_SWEEP_SECONDS": str(SWEEP_EVERY),
        }
        command = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat", "--loglevel", "INFO"]
        command += ["-s", str(tmp_path / f"schedule-{n}")]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(command, cwd=REPO_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def sent(self) -> int:
        return self.log().count(SENT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def beats(tmp_path, broker_conn, redis_conn):
    started: list[Beat] = []

    def start() -> Beat:
        started.append(Beat(tmp_path, len(started)))
        return started[-1]

    yield start
    for beat in started:
        beat.stop()


def test_a_second_beat_sends_nothing_until_the_first_dies_then_takes_over(beats, settings):
    assert settings.CELERY_BEAT_SCHEDULER == "eventcache.beat:LeasedScheduler"
    first = beats()
    assert wait_until(lambda: first.sent() > 0, WORKER_START_SECONDS), first.log()
    assert role_holder_pid("beat") == first.proc.pid
    second = beats()
    assert wait_until(lambda: STANDING_BY in second.log(), WORKER_START_SECONDS), second.log()

    sent_before = first.sent()
    time.sleep(4 * SWEEP_EVERY)
    assert first.sent() > sent_before  # the holder keeps sending
    assert second.sent() == 0, second.log()  # the stand-by sends nothing: the schedule runs once

    first.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    assert first.proc.wait(10) == -signal.SIGKILL
    assert wait_until(lambda: second.sent() > 0, TERM + RENEW + 5), second.log()
    takeover = time.monotonic() - killed
    print(f"\nbeat takeover after SIGKILL: {takeover:.2f} s (term {TERM} s, renew {RENEW} s)")
    assert takeover <= TERM + RENEW + 1.0
    assert role_holder_pid("beat") == second.proc.pid
