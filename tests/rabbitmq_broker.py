"""The test session's broker: Redis by default, or RabbitMQ with TEST_CELERY_BROKER=rabbitmq (`make test-rabbitmq`).

Loaded with `-p tests.rabbitmq_broker` (pytest.ini), before pytest-django imports the settings. With
TEST_CELERY_BROKER=rabbitmq it creates a vhost of its own on the RabbitMQ at TEST_RABBITMQ_HOST (127.0.0.1:5672,
guest/guest) with rabbitmqctl, and points CELERY_BROKER_URL at it, in this process and so in every worker and web
process the tests start; the vhost (and every queue in it) is deleted when the session ends. Several sessions
run at once on this machine, so none uses the default vhost. Otherwise CELERY_BROKER_URL is removed from the
environment: the session's broker is then its own Redis's broker database (tests/redis_server.py), never a broker
of your environment.

(Not TEST_BROKER: Celery's own test worker reads that one as the broker's host name.)

Tests that are about the Redis transport itself carry the `redis_broker` marker, and the RabbitMQ session
deselects them (a skip would fail CI, which sets CI_FAIL_ON_SKIP).
"""

import os
import shutil
import subprocess
import uuid

import pytest

RABBITMQ_HOST = os.environ.get("TEST_RABBITMQ_HOST", "127.0.0.1:5672")
RABBITMQ_USER = os.environ.get("TEST_RABBITMQ_USER", "guest")
RABBITMQ_PASSWORD = os.environ.get("TEST_RABBITMQ_PASSWORD", "guest")
CTL_TIMEOUT_SECONDS = 60

_vhosts: list[str] = []  # the session's own vhost, if it made one


def _rabbitmqctl(*args: str) -> None:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise pytest.UsageError(
            "TEST_CELERY_BROKER=rabbitmq needs rabbitmqctl (Debian's rabbitmq-server) and a running RabbitMQ"
        )
    done = subprocess.run([ctl, "-q", *args], capture_output=True, text=True, timeout=CTL_TIMEOUT_SECONDS)
    if done.returncode:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr or done.stdout}")


def create_vhost(label: str) -> str:
    """A fresh vhost the test user may use; returns its amqp:// URL. Delete it with delete_vhost(url)."""
    vhost = f"rp-{label}-{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, RABBITMQ_USER, ".*", ".*", ".*")
    return f"amqp://{RABBITMQ_USER}:{RABBITMQ_PASSWORD}@{RABBITMQ_HOST}/{vhost}"


def delete_vhost(url: str) -> None:
    _rabbitmqctl("delete_vhost", url.rsplit("/", 1)[1])


def session_broker() -> str:
    return "rabbitmq" if os.environ.get("TEST_CELERY_BROKER", "redis") == "rabbitmq" else "redis"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    broker = os.environ.get("TEST_CELERY_BROKER", "redis")
    if broker not in ("redis", "rabbitmq"):
        raise pytest.UsageError(f"TEST_CELERY_BROKER is redis or rabbitmq, not {broker!r}")
    os.environ.pop("CELERY_BROKER_URL", None)
    if broker == "rabbitmq":
        url = create_vhost("session")
        _vhosts.append(url)
        os.environ["CELERY_BROKER_URL"] = url
    return (yield)


def pytest_collection_modifyitems(config, items):
    if session_broker() != "rabbitmq":
        return
    kept, deselected = [], []
    for item in items:
        (deselected if item.get_closest_marker("redis_broker") else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def pytest_report_header(config):
    if _vhosts:
        from eventcache.redis_url import mask

        return f"broker: RabbitMQ, vhost {mask(_vhosts[0])} (started for this session)"
    return "broker: the session Redis's broker database"


def pytest_unconfigure(config):
    while _vhosts:
        delete_vhost(_vhosts.pop())
