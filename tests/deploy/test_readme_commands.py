"""Every command README.md marks runnable works as printed, from a fresh clone, against `make run` (issue 16).

The repository is `git clone`d (committed files only) into a temporary directory, where `make run` starts with
a redis-server and a PostgreSQL database of this test's own, exactly as a newcomer's would (it writes .env).
Once its walkthrough is printed, the README's runnable blocks (scripts/readme_blocks.py) run in order in one
`bash -e` session with a newcomer's environment (no REDIS_URL, DATABASE_URL or PYTHONPATH; the virtualenv not
on PATH), their URLs rewritten to this run's as `make run` prints them; each command's output is compared with
the `# ` lines the README shows under it. Then one Ctrl-C must stop make run cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from scripts import readme_blocks
from tests.deploy import service_files as files
from tests.deploy.test_make_run import alive, descendants
from tests.deploy.test_service_commands import free_port, redis_server_binary

pytestmark = pytest.mark.deploy

START_SECONDS = 150
SESSION_SECONDS = 90
STOP_SECONDS = 30

# Shell blocks a reader is not meant to run here, each with the reason (a new unmarked block fails the test).
DELIBERATELY_SKIPPED = {
    "make run    # virtualenv": "`make run` is what the blocks run against, and `make test` is the suite itself",
    "docker compose up -d redis": "needs Docker, which CI machines do not have (make deploy-check checks compose)",
    "dotnet new tool-manifest": "needs the .NET SDK; the schema it reads is checked by tests/unit/test_openapi.py",
}

# What a reader's shell does not have: make run and make test set these for their own processes only.
NOT_IN_A_NEW_TERMINAL = (
    "REDIS_URL",
    "DATABASE_URL",
    "PYTHONPATH",
    "DJANGO_SETTINGS_MODULE",
    "TEST_REDIS_URL",
    "ENV_FILE",  # config/test_settings.py sets it empty: the tests' processes never read a .env
    "REDIS_SERVER_BIN",
    "VIRTUAL_ENV",
    "VENV",  # `make deploy-check VENV=...` (as CI runs it) exports it to every child, the nested `make run` too
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
)


def test_every_block_is_runnable_or_skipped_with_a_reason():
    unmarked = [block for block in readme_blocks.blocks() if block.mode is None]
    reasons = {
        block.line: next((why for start, why in DELIBERATELY_SKIPPED.items() if block.text.startswith(start)), None)
        for block in unmarked
    }
    assert all(reasons.values()), [f"README.md:{line}" for line, why in reasons.items() if not why]
    assert len(unmarked) == len(DELIBERATELY_SKIPPED)
    assert {block.mode for block in readme_blocks.blocks()} <= {None, "run", "background"}


def test_expected_output_and_urls_are_read_as_the_module_says():
    block = readme_blocks.parse_commands(
        "# a note\ncurl -s http://127.0.0.1:8000/x \\\n  -d '{}'\n# {\"id\": 1}\n\nredis-cli -u redis://127.0.0.1:6379/1 LLEN q\n"
    )
    assert [command.expected for command in block] == [['{"id": 1}'], []]
    assert readme_blocks.matches(['{"id": 1}'], ['{"id":1}']) is None  # the same JSON
    assert readme_blocks.matches(["X-Cache: HIT"], ["X-Cache: MISS"]) == "no output line matches 'X-Cache: HIT'"
    assert readme_blocks.matches(["a..."], ["abc", "d"]).startswith("more output")
    assert readme_blocks.matches(["a...", "..."], ["d", "abc"]) is None
    local = readme_blocks.localize(block[1].text, "http://127.0.0.1:5555", "redis://:pw@127.0.0.1:7000/4")
    assert local == "redis-cli -u redis://:pw@127.0.0.1:7000/5 LLEN q"  # the broker's db is the cache's next one


@pytest.fixture
def fresh_clone(tmp_path):
    return files.fresh_clone(tmp_path / "clone")


@pytest.fixture
def services(tmp_path):
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        pytest.skip(
            "the README's commands are checked against PostgreSQL: make test sets DATABASE_URL when one answers"
        )
    import psycopg

    server = urlsplit(database_url)
    database = f"{server.path.lstrip('/') or 'recipe_planner'}_readme"
    maintenance = urlunsplit((server.scheme, server.netloc, "/postgres", "", ""))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
    redis_port = free_port()
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    argv = [redis_server_binary(), "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
    redis = subprocess.Popen(
        argv + ["--appendonly", "no", "--dir", str(redis_dir)], stdout=subprocess.DEVNULL, start_new_session=True
    )
    try:
        yield {
            "redis_url": f"redis://127.0.0.1:{redis_port}/0",
            "database_url": urlunsplit((server.scheme, server.netloc, f"/{database}", "", "")),
        }
    finally:
        redis.terminate()
        redis.wait(timeout=10)
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def newcomer_environment() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in NOT_IN_A_NEW_TERMINAL}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep) if part != venv_bin)
    return env


def session_script(blocks: list[readme_blocks.Block], clone: Path, **urls: str) -> tuple[str, list]:
    """One bash script running every command in order, each announced by a `@@ N` line on stdout."""
    lines = ["set -e", f"cd {clone}", "BACKGROUND=()"]
    commands = []
    for block in blocks:
        for command in block.commands:
            text = readme_blocks.localize(command.text, **urls)
            lines.append(f"printf '\\n@@ {len(commands)}\\n'")  # curl's JSON ends without a newline
            if block.mode == "background":
                lines.append(f"{text} > {clone}/background-{len(commands)}.out 2>&1 &")
                lines.append("BACKGROUND+=($!); sleep 0.5")
            else:
                lines.append(text)
            commands.append((block, command, text))
    lines.append("printf '\\n@@ end\\n'")
    lines.append('[ ${#BACKGROUND[@]} -eq 0 ] || kill "${BACKGROUND[@]}"')
    return "\n".join(lines) + "\n", commands


def test_readme_commands_run_as_printed_against_make_run(fresh_clone, services, tmp_path):
    clone, port = fresh_clone, free_port()
    base_url = f"http://127.0.0.1:{port}"
    # A newcomer's terminal (pytest's DJANGO_SETTINGS_MODULE would give make run the test settings) with this
    # test's Redis and database, which make run writes into the clone's .env for the README's commands.
    env = {**newcomer_environment(), "REDIS_URL": services["redis_url"], "DATABASE_URL": services["database_url"]}
    env.pop("VERBOSE", None)
    log_path = tmp_path / "make-run.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        make = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=clone,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while f"Recipe planner is up at {base_url}" not in log_path.read_text(errors="replace"):
            assert make.poll() is None and time.monotonic() < deadline, log_path.read_text()[-4000:]
            time.sleep(0.3)
        startup = time.monotonic() - started

        runnable = [block for block in readme_blocks.blocks(clone.joinpath("README.md").read_text()) if block.mode]
        # make run printed the README's walkthrough blocks themselves, with this run's URLs (scripts/walkthrough.py).
        printed = log_path.read_text(errors="replace")
        walkthrough = [block for block in runnable if block.section.startswith(("Try it", "Follow one edit"))]
        assert len(walkthrough) >= 4, [block.section for block in runnable]
        for block in walkthrough:
            assert readme_blocks.localize(block.text, base_url, services["redis_url"]) in printed, block.text
        cookies = str(tmp_path / "cookies")
        script, commands = session_script(runnable, clone, base_url=base_url, cookies=cookies, **services)
        (tmp_path / "session.sh").write_text(script)
        session = subprocess.run(
            ["bash", str(tmp_path / "session.sh")],
            cwd=clone,
            env=newcomer_environment(),
            capture_output=True,
            text=True,
            timeout=SESSION_SECONDS,
        )
        outputs = split_outputs(session.stdout)
        reached = max((index for index in outputs if isinstance(index, int)), default=-1)
        failing = commands[reached][2] if 0 <= reached < len(commands) else "?"
        assert session.returncode == 0 and "end" in outputs, (
            f"the README's commands stopped at `{failing}` (exit {session.returncode}):\n"
            f"{session.stdout[-3000:]}\nstderr:\n{session.stderr[-3000:]}\nmake run:\n{log_path.read_text()[-2000:]}"
        )
        differences = []
        for index, (block, command, text) in enumerate(commands):
            if block.mode == "background":
                continue
            if command.expected and (why := readme_blocks.matches(command.expected, outputs[index])):
                differences.append(f"README.md:{block.line} `{text}`: {why}\n  output: {outputs[index]}")
        assert not differences, "\n".join(differences) + f"\nthe session's output:\n{session.stdout}"
        events = [clone / f"background-{index}.out" for index, item in enumerate(commands) if item[0].mode]
        events = [path.read_text() for path in events if path.exists()]
        assert any('"kind":"recipe.changed"' in text for text in events), events
    finally:
        processes = descendants(make.pid)
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGINT)  # one Ctrl-C, as the terminal sends it to the foreground group
        try:
            code = make.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
            raise
    output = log_path.read_text(errors="replace")
    # make itself dies of the SIGINT once its recipe has exited (as in a terminal: "make: *** [run] Interrupt").
    assert code in (0, -signal.SIGINT), output[-3000:]
    for service in ("web", "worker", "beat"):
        assert f"{service} stopped (rc=0)" in output, output[-3000:]
    deadline = time.monotonic() + 10
    while (left := [pid for pid in processes if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, {pid: processes[pid] for pid in left}
    print(f"make run healthy after {startup:.0f} s; README session {len(commands)} commands")


def split_outputs(stdout: str) -> dict[int | str, list[str]]:
    """`@@ N`-separated stdout -> command index -> its non-empty output lines (carriage returns dropped)."""
    outputs: dict[int | str, list[str]] = {}
    current: int | str | None = None
    for line in stdout.splitlines():
        if line.startswith("@@ "):
            marker = line[3:]
            current = int(marker) if marker.isdigit() else marker
            outputs[current] = []
        elif current is not None and line.strip():
            outputs[current].append(line.rstrip("\r").rstrip())
    return outputs
