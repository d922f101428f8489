""".pre-commit-config.yaml: valid for pre-commit, and it runs what `make lint` runs (ruff lint + format, mypy,
lint-imports) with ruff at the version requirements-dev.txt installs."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from tests.deploy import service_files as files

pytestmark = pytest.mark.deploy

CONFIG = files.REPO / ".pre-commit-config.yaml"


def hooks_of(repo_url: str) -> dict[str, dict]:
    repos = [repo for repo in yaml.safe_load(CONFIG.read_text())["repos"] if repo["repo"] == repo_url]
    assert len(repos) == 1, f"{repo_url}: {len(repos)} entries"
    return {hook["id"]: hook for hook in repos[0]["hooks"]}


def test_pre_commit_accepts_the_config():
    pre_commit = Path(sys.executable).parent / "pre-commit"
    result = subprocess.run([str(pre_commit), "validate-config", str(CONFIG)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_lints_with_fixes_then_formats():
    hooks = hooks_of("https://github.com/astral-sh/ruff-pre-commit")
    assert list(hooks) == ["ruff-check", "ruff-format"]  # fixes first, so the formatter has the last word
    assert "--fix" in hooks["ruff-check"]["args"]


def test_ruff_hook_is_the_version_requirements_dev_installs():
    repo = next(r for r in yaml.safe_load(CONFIG.read_text())["repos"] if "ruff-pre-commit" in r["repo"])
    requirement = re.search(r"^ruff([^\s#]+)", (files.REPO / "requirements-dev.txt").read_text(), re.M)
    assert requirement, "ruff is not in requirements-dev.txt"
    assert repo["rev"].removeprefix("v") in SpecifierSet(requirement.group(1))


def test_mypy_and_lint_imports_run_from_the_virtualenv():
    hooks = hooks_of("local")
    for name in ("mypy", "lint-imports"):
        assert hooks[name]["language"] == "system"
        assert hooks[name]["pass_filenames"] is False  # the tools' own config decides what is checked
