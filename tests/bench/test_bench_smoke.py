"""Smoke run of the benchmark suite (bench/): one cheap scenario in quick mode, into a temp dir.

It proves the suite still runs against the real PostgreSQL and Redis and writes its table, markdown and chart;
it asserts nothing about speed (speed belongs to the figures in docs/BENCHMARKS.md).
The bench works on its own database (`<name>_bench`) and here on Redis dbs two above the suite's, so it
never empties what other tests use.
"""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.bench, pytest.mark.integration]


def _bench_env() -> dict:
    env = dict(os.environ)
    database_url = env.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        pytest.fail("the bench smoke test needs PostgreSQL: set DATABASE_URL (make test does)")
    redis_url = urlsplit(env.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    db = int(redis_url.path.strip("/") or 0)
    bench_db = db + 2 if db <= 12 else db - 4  # cache db and the broker db after it, both unused by the suite
    env["REDIS_URL"] = urlunsplit((redis_url.scheme, redis_url.netloc, f"/{bench_db}", "", ""))
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the bench runs production settings (DEBUG off) itself
    return env


def test_quick_keyspace_run_prints_the_table_and_writes_markdown_and_chart(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "keyspace", "--quick", "--out", str(tmp_path)],
        cwd=REPO,
        env=_bench_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    # The table on stdout shows the 10k and 100k rows (issue 3: "prints both").
    assert "Invalidation cost vs keyspace size" in result.stdout
    assert "10,000" in result.stdout and "100,000" in result.stdout
    assert "delete_pattern" in result.stdout

    markdown = (tmp_path / "BENCHMARKS.md").read_text()
    assert "## Invalidation cost vs keyspace size" in markdown
    assert "| unrelated keys |" in markdown
    assert "Quick mode" in markdown
    assert "PostgreSQL" in markdown and "Redis server" in markdown  # machine and versions
    assert "python -m bench keyspace --quick" in markdown  # the exact command
    assert "met" in markdown or "MISSED" in markdown  # each target has a verdict

    chart = tmp_path / "bench" / "keyspace.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](bench/keyspace.png)" in markdown
