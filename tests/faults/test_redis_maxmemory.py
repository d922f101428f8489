"""Redis at maxmemory with noeviction (as in docker-compose), and Redis down (issue 12 item 5), against a
redis-server this test starts with a small maxmemory, and the web app in a subprocess on it.

The login throttle counts in Redis. When Redis refuses the count (OOM) or does not answer, the throttle
fails closed: every login answers 503 JSON, so no number of wrong passwords is ever followed by a right one
getting in; once Redis takes writes again, logins work. /healthz says "degraded", with the figures, when
used_memory reaches REDIS_MEMORY_DEGRADED_RATIO of maxmemory."""

import subprocess

import pytest
import redis

from scripts import dev_redis
from tests.factories import UserFactory
from tests.fixtures.events import RedisServer, _poll

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-maxmemory-123456"
FILLER_DB = 7  # a database the app does not use: what fills the server is not the app's own keys


class SmallRedis(RedisServer):
    """A redis-server with maxmemory 4 MB and the noeviction policy, no persistence."""

    def start(self) -> "SmallRedis":
        command = dev_redis.server_argv(
            "redis-server", self.port, str(self.directory), "--maxmemory", "4mb", "--maxmemory-policy", "noeviction"
        )
        with open(self.directory / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        assert _poll(self._answers, 10), (self.directory / "redis.log").read_text()
        return self

    def fill(self) -> None:
        """Write to FILLER_DB until Redis refuses writes (OOM), then lower maxmemory to 3 MB: used memory stays
        above it whatever small buffers come and go, so every write is refused (not one now and then)."""
        filler = redis.Redis(port=self.port, db=FILLER_DB)
        for n in range(100_000):
            try:
                filler.set(f"filler:{n}", b"x" * 65536)
            except redis.exceptions.OutOfMemoryError:
                filler.config_set("maxmemory", "3mb")
                return
        raise AssertionError("Redis never refused a write")

    def drain(self) -> None:
        client = redis.Redis(port=self.port, db=FILLER_DB)
        client.flushdb()
        client.config_set("maxmemory", "4mb")


@pytest.fixture
def small_redis(tmp_path):
    server = SmallRedis(directory=tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def user():
    return UserFactory(username="cook", password=PASSWORD)


def _login(client, password):
    return client.request("POST", "/api/auth/login/", {"username": "cook", "password": password})


def test_at_maxmemory_the_throttle_fails_closed_and_healthz_says_degraded(user, small_redis, start_web_process):
    web = start_web_process(REDIS_URL=small_redis.url, LOGIN_RATE_LIMIT="3/m", REDIS_MEMORY_DEGRADED_RATIO="0.9")
    client = web.session()
    status, _, body = client.request("GET", "/healthz")
    assert (status, body["redis"]) == (200, "ok"), body

    small_redis.fill()

    status, _, body = client.request("GET", "/healthz")
    assert status == 200 and body["redis"] == "degraded", body
    memory = body["redis_memory"]
    assert memory["max_bytes"] == 3 * 1024 * 1024 and memory["used_bytes"] > memory["max_bytes"], memory

    answers = [_login(client, "wrong") for _ in range(20)]
    assert {status for status, _, _ in answers} == {503}, [(s, b) for s, _, b in answers][:3]
    assert all(body["error"] == "login_unavailable" for _, _, body in answers)
    status, _, body = _login(client, PASSWORD)
    assert status == 503, body  # the right password after 20 uncounted wrong ones does not get in

    small_redis.drain()
    status, _, body = client.request("GET", "/healthz")
    assert (status, body["redis"]) == (200, "ok"), body
    status, _, body = _login(client, PASSWORD)
    assert status == 200, body


def test_with_redis_down_the_throttle_fails_closed(user, small_redis, start_web_process):
    web = start_web_process(REDIS_URL=small_redis.url, LOGIN_RATE_LIMIT="3/m")
    client = web.session()
    small_redis.stop()
    for password in ("wrong", "wrong", "wrong", "wrong", PASSWORD):
        status, _, body = _login(client, password)
        assert (status, body["error"]) == (503, "login_unavailable"), body
    small_redis.start()
    status, _, body = _login(client, PASSWORD)
    assert status == 200, body
