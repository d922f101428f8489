"""Prometheus metrics for real: gunicorn (2 workers) and a Celery worker subprocess, each in prometheus_client's
multi-process mode. /metrics is behind its bearer token; a scrape after real API traffic parses with
prometheus_client's own parser and promtool, and shows the cache counters per family, the outbox backlog, Redis's
memory, and the worker's batches (size, duration, invalidation lag, events applied) on the worker's own port."""

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.live import free_port
from tests.fixtures.worker import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.worker]

REPO = Path(__file__).resolve().parents[2]
TOKEN = "scrape-token-for-the-test"
PASSWORD = "a long enough metrics password"


def _get(url: str, token: str | None = None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _samples(text: str) -> dict:
    """{(name, frozenset(labels)): value} of every sample of a scrape, parsed by prometheus_client."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: apt-get install prometheus (.ci/run installs it)"
    return found


@pytest.mark.django_db(transaction=True)
def test_web_and_worker_scrapes_after_real_traffic(live_server_factory, start_worker_process, tmp_path):
    from django.contrib.auth import get_user_model

    from planner.models import Recipe

    user = get_user_model().objects.create_user(username="meter", password=PASSWORD)
    recipe = Recipe.objects.create(author=user, title="Metered soup")
    worker_port = free_port()
    start_worker_process(
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "worker-metrics"),
        WORKER_METRICS_PORT=str(worker_port),
        WORKER_METRICS_ADDR="127.0.0.1",
    )
    server = live_server_factory(workers=2, METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "web-metrics"))

    assert _get(f"{server.url}/metrics")[0] == 401
    assert _get(f"{server.url}/metrics", "wrong")[0] == 401

    client = server.session("meter", PASSWORD)
    assert client.request("PATCH", f"/api/recipes/{recipe.id}/", {"title": "Metered stew"})[0] == 200
    worker_url = f"http://127.0.0.1:{worker_port}/metrics"

    def applied():
        status, text = _get(worker_url)
        return status == 200 and _value(_samples(text), "recipe_planner_events_applied_total") >= 1

    assert wait_until(applied, 30, 0.25), _get(worker_url)
    for _ in range(3):
        assert client.request("GET", f"/api/recipes/{recipe.id}/")[0] == 200

    status, web = _get(f"{server.url}/metrics", TOKEN)
    assert status == 200
    samples = _samples(web)
    assert _value(samples, "recipe_planner_cache_hits_total", family="recipe") >= 2
    assert _value(samples, "recipe_planner_cache_misses_total", family="recipe") >= 1
    assert _value(samples, "recipe_planner_cache_fills_total", family="recipe") >= 1
    assert ("recipe_planner_cache_lease_waits_total", frozenset({("family", "recipe")})) in samples
    assert _value(samples, "recipe_planner_redis_up") == 1
    assert _value(samples, "recipe_planner_redis_used_memory_bytes") > 0
    assert _value(samples, "recipe_planner_outbox_unprocessed") == 0
    assert ("recipe_planner_outbox_oldest_unsent_age_seconds", frozenset()) in samples
    assert _value(samples, "recipe_planner_events_in_total") >= 1  # the worker's pub/sub listener saw the write
    assert _value(samples, "recipe_planner_dependents_lookups_total", by="task") >= 1  # the worker's task
    assert ("recipe_planner_dependents_lookups_total", frozenset({("by", "listener")})) in samples

    worker = _samples(_get(worker_url)[1])
    assert _value(worker, "recipe_planner_worker_batch_size_count") >= 1
    assert _value(worker, "recipe_planner_worker_batch_duration_seconds_count") >= 1
    assert _value(worker, "recipe_planner_invalidation_lag_seconds_count") >= 1
    assert list((tmp_path / "worker-metrics").glob("*.db")), "the worker did not write multi-process files"

    for name, text in (("web", web), ("worker", _get(worker_url)[1])):
        scrape = tmp_path / f"{name}.prom"
        scrape.write_text(text)
        check = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True, text=True)
        # promtool lints naming too; only errors (not lint advice about units or counters) fail the scrape.
        assert "error" not in check.stderr.lower(), (name, check.stderr)


def test_the_compose_prometheus_config_is_valid_and_scrapes_web_and_worker(tmp_path):
    config = yaml.safe_load((REPO / "monitoring/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["web"]["static_configs"][0]["targets"] == ["web:8000"]
    assert jobs["web"]["authorization"]["credentials_file"] == "/etc/prometheus/metrics_token"
    assert jobs["worker"]["dns_sd_configs"][0]["port"] == 9808
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert compose["worker"]["environment"]["WORKER_METRICS_PORT"] == "9808"
    assert compose["prometheus"]["profiles"] == ["monitoring"]
    # promtool checks it as the container sees it: the token file where Prometheus mounts it.
    mounted = tmp_path / "prometheus.yml"
    (tmp_path / "metrics_token").write_text("token\n")
    mounted.write_text(
        (REPO / "monitoring/prometheus.yml")
        .read_text()
        .replace("/etc/prometheus/metrics_token", str(tmp_path / "metrics_token"))
    )
    check = subprocess.run([promtool(), "check", "config", str(mounted)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_redis_error_counted_in_a_process_is_a_metric():
    from observe.engine import stats
    from prometheus_client import REGISTRY

    before = REGISTRY.get_sample_value("recipe_planner_redis_errors_total") or 0
    stats.incr_local(stats.REDIS_ERRORS, 2)
    assert REGISTRY.get_sample_value("recipe_planner_redis_errors_total") == before + 2
    stats.reset_local()


def test_grafana_dashboard_uses_only_metrics_the_app_exports():
    dashboard = json.loads((REPO / "docs/grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs
    exported = {
        "recipe_planner_cache_hits_total",
        "recipe_planner_cache_misses_total",
        "recipe_planner_cache_fills_total",
        "recipe_planner_cache_lease_waits_total",
        "recipe_planner_invalidation_lag_seconds_bucket",
        "recipe_planner_events_in_total",
        "recipe_planner_events_applied_total",
        "recipe_planner_events_rejected_total",
        "recipe_planner_outbox_unprocessed",
        "recipe_planner_outbox_unsent",
        "recipe_planner_outbox_oldest_unprocessed_age_seconds",
        "recipe_planner_outbox_oldest_unsent_age_seconds",
        "recipe_planner_redis_errors_total",
        "recipe_planner_redis_used_memory_bytes",
        "recipe_planner_redis_keys",
        "recipe_planner_worker_batch_size_bucket",
        "recipe_planner_worker_batch_duration_seconds_bucket",
        "recipe_planner_worker_events_rejected_total",
    }
    import re

    used = {name for expr in exprs for name in re.findall(r"recipe_planner_[a-z_]+", expr)}
    assert used <= exported, used - exported
