"""Each test's folder and markers agree, so `pytest tests/unit` needs no service and `pytest -m faults` is the
fault proofs (pytest.ini lists the markers):

    tests/unit          no service marker, and no fixture that talks to a real Redis, broker, worker or process
    tests/integration   integration or worker, never faults
    tests/faults        faults
    tests/deploy        deploy
    tests/bench         bench
and faults, deploy and bench mark nothing outside their folder.

The suite is collected the way pytest does it (`pytest --collect-only` in a subprocess, with this module loaded as a
plugin that writes each item's markers and fixture closure), so a marker set on a class, a module or a
parametrize case counts as pytest sees it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parents[1]
REPORT_ENV = "TEST_LAYOUT_REPORT"

# What a folder requires: any one of these markers on every test in it.
REQUIRED = {
    "faults": {"faults"},
    "integration": {"integration", "worker"},
    "deploy": {"deploy"},
    "bench": {"bench"},
}
# Markers that belong to one folder only.
OWNED = {"faults": "faults", "deploy": "deploy", "bench": "bench"}
SERVICE_MARKERS = {"integration", "worker", "faults", "deploy", "bench"}
# Fixtures that reach a real Redis, the broker, a worker or another process (tests/fixtures/*).
SERVICE_FIXTURES = {
    "redis_conn",
    "real_cache",
    "broker_conn",
    "event_subscriber",
    "redis_commands",
    "redis_server",
    "celery_worker",
    "worker_thread",
    "start_worker_process",
    "start_web_process",
    "world",
    "warm_world",
    "api",
    "ann_api",
    "bob_api",
}


def pytest_collection_finish(session):
    """Plugin hook (only when loaded with -p tests.test_layout): every collected test's folder, markers and
    fixtures, written as JSON to $TEST_LAYOUT_REPORT."""
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    tests_dir = REPO_DIR / "tests"
    report = []
    for item in session.items:
        relative = Path(item.path).resolve().relative_to(tests_dir)
        report.append(
            {
                "id": item.nodeid,
                "folder": relative.parts[0] if len(relative.parts) > 1 else "",
                "markers": sorted({mark.name for mark in item.iter_markers()}),
                "fixtures": sorted(item.fixturenames),
            }
        )
    Path(path).write_text(json.dumps(report))


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    report = tmp_path_factory.mktemp("layout") / "items.json"
    env = {**os.environ, REPORT_ENV: str(report)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--collect-only",
        "-q",
        "-p",
        "tests.test_layout",
        "-p",
        "no:cacheprovider",
    ]
    result = subprocess.run(command + ["tests"], cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    items = json.loads(report.read_text())
    assert len(items) > 100, f"only {len(items)} tests collected"
    return items


def misplaced(items) -> list[str]:
    problems = []
    for item in items:
        folder, markers = item["folder"], set(item["markers"])
        if folder in REQUIRED and not markers & REQUIRED[folder]:
            problems.append(f"{item['id']}: in tests/{folder} but marked none of {sorted(REQUIRED[folder])}")
        for marker, home in OWNED.items():
            if marker in markers and folder != home:
                problems.append(f"{item['id']}: marked {marker} but not in tests/{home}")
        if folder == "unit":
            if markers & SERVICE_MARKERS:
                problems.append(f"{item['id']}: a unit test marked {sorted(markers & SERVICE_MARKERS)}")
            if used := SERVICE_FIXTURES.intersection(item["fixtures"]):
                problems.append(f"{item['id']}: a unit test using {sorted(used)}")
    return problems


def test_every_test_file_is_in_the_folder_its_markers_name(collected):
    assert misplaced(collected) == []


def test_the_check_finds_a_test_in_the_wrong_folder():
    items = [
        {"id": "tests/integration/test_x.py::t", "folder": "integration", "markers": ["faults"], "fixtures": []},
        {"id": "tests/unit/test_y.py::t", "folder": "unit", "markers": [], "fixtures": ["db", "redis_conn"]},
        {"id": "tests/faults/test_z.py::t", "folder": "faults", "markers": ["integration"], "fixtures": []},
        {"id": "tests/unit/test_ok.py::t", "folder": "unit", "markers": ["django_db"], "fixtures": ["fake_redis"]},
    ]
    assert [problem.split(":")[0] for problem in misplaced(items)] == [
        "tests/integration/test_x.py",
        "tests/integration/test_x.py",
        "tests/unit/test_y.py",
        "tests/faults/test_z.py",
    ]
