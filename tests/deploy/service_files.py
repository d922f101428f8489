"""Read the deploy files the way honcho, Docker Compose, Docker and Railway read them, for the deploy tests.

Only what the tests need: the Procfile (with honcho's own parser, as `make run` reads it), compose's `$$`
and `${VAR:-default}` interpolation, a Dockerfile's stages, ENV and CMD, and the Railway config files.
Docker is not installed on these machines, so the commands these files name are run directly, with the
image's ENV and WORKDIR (/app) mapped onto this checkout.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml
from honcho.environ import parse_procfile

REPO = Path(__file__).resolve().parents[2]
PROCFILE = REPO / "Procfile"
COMPOSE_FILE = REPO / "docker-compose.yml"
RAILWAY_DIR = REPO / "railway"
RAILWAY_SERVICES = ("web", "worker", "beat")
IMAGE_WORKDIR = "/app"

_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")


def fresh_clone(destination: Path) -> Path:
    """`git clone` of this repository's committed tree, for tests that run `make run` as a newcomer would: it
    writes .env, which must never land in the developer's checkout (a temporary Redis's URL in it would break
    every command they run afterwards)."""
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(destination)], check=True, timeout=60)
    # The virtualenv the tests run in stands in for the clone's .venv (an install would take most of the time
    # budget). Its stamp predates the clone's requirement files, which make would take as a reason to reinstall.
    (destination / ".venv").symlink_to(sys.prefix)
    for name in ("requirements.txt", "requirements-dev.txt"):
        os.utime(destination / name, (0, 0))
    return destination


def procfile() -> dict[str, str]:
    """Process name -> command line, as honcho (and so `make run`) reads the Procfile."""
    return dict(parse_procfile(PROCFILE.read_text()).processes)


def procfile_argv(name: str) -> list[str]:
    """How every platform runs a Procfile line: through a shell (for ${PORT:-8000}), exec'd so signals reach it."""
    return ["/bin/sh", "-c", f"exec {procfile()[name]}"]


def interpolate(value: str, environ: dict[str, str] | None = None) -> str:
    """Compose's interpolation: `$$` is a literal `$`; `${VAR}`, `${VAR:-default}`, `${VAR-default}`."""
    environ = environ or {}

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, default = match.group("name"), match.group("op"), match.group("default")
        if op == ":-":
            return environ.get(name) or default
        if op == "-":
            return environ.get(name, default)
        return environ.get(name, "")

    return _VARIABLE.sub(replace, value)


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose_service(name: str) -> dict:
    return compose()["services"][name]


def compose_command(name: str) -> list[str]:
    """The service's command as the container runs it (exec form, after interpolation)."""
    command = compose_service(name)["command"]
    if isinstance(command, str):
        command = shlex.split(command)
    return [interpolate(part) for part in command]


def compose_environment(name: str) -> dict[str, str]:
    """The environment compose gives the service on a clean clone (no .env: every default applies)."""
    environment = compose_service(name).get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: interpolate(str(value)) for key, value in environment.items()}


def compose_healthcheck_shell(name: str) -> str:
    """A CMD-SHELL health check's shell command, after interpolation."""
    test = compose_service(name)["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL", f"{name}'s health check is not CMD-SHELL: {test}"
    return interpolate(test[1])


def dockerfile_for(service: str) -> Path:
    build = compose_service(service)["build"]
    return REPO / build.get("context", ".") / build.get("dockerfile", "Dockerfile")


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    instructions, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_env(path: Path) -> dict[str, str]:
    """The image's ENV, with paths under the image's WORKDIR mapped onto this checkout."""
    env = {}
    for keyword, rest in dockerfile_instructions(path):
        if keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value.replace(IMAGE_WORKDIR, str(REPO))
    return env


def dockerfile_cmd(path: Path, stage: str | None = None) -> list[str]:
    """The CMD of a stage (default: the last stage, what `docker build` without --target produces)."""
    stages = dockerfile_stages(path)
    instructions = stages[stage] if stage else list(stages.values())[-1]
    commands = [json.loads(rest) for keyword, rest in instructions if keyword == "CMD"]
    return commands[-1]


def railway(service: str) -> dict:
    return json.loads((RAILWAY_DIR / f"{service}.json").read_text())


def railway_start_command(service: str) -> list[str]:
    """Railway runs a Dockerfile service's start command in exec form (hence the explicit /bin/sh -c)."""
    return shlex.split(railway(service)["deploy"]["startCommand"])


def dockerfile_stages(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Stage name -> its instructions (FROM first), in file order."""
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, rest in dockerfile_instructions(path):
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else str(len(stages))
            current = stages.setdefault(name, [])
        current.append((keyword, rest))
    return stages
