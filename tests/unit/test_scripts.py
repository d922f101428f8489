"""eventcache/store/scripts.py and lua/*.lua: every script names its KEYS and ARGV at the top, is composed only
from library files that exist, and is the text Redis runs (fakeredis with Lua, for the loader's contract)."""

import re

import pytest

from eventcache.store import scripts

LIBRARIES = {"current_ns", "record_hot", "stored_parts", "read_or_lease", "all_visible", "lease_marks"}
SCRIPTS = {
    "read",
    "authenticated_read",
    "fill_if_lease",
    "take_lease",
    "release",
    "record_hot_read",
    "invalidate_seen",
    "role_hold",
    "role_release",
}
SCRIPTS |= {"family_read", "read_at_ns", "drop_and_lease"}  # the Redis Cluster's per-slot halves (store/cluster.py)


def header(name):
    """The leading comment block of lua/{name}.lua."""
    lines = (scripts.LUA_DIR / f"{name}.lua").read_text().splitlines()
    return "\n".join(line for line in lines[: next(i for i, line in enumerate(lines) if not line.startswith("--"))])


def test_the_lua_folder_holds_exactly_the_known_scripts_and_libraries():
    assert {path.stem for path in scripts.LUA_DIR.glob("*.lua")} == LIBRARIES | SCRIPTS


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_every_script_names_its_keys_and_args_at_the_top(name):
    text = header(name)
    assert "KEYS" in text and "ARGV" in text and "Returns" in text


@pytest.mark.parametrize("name", sorted(LIBRARIES))
def test_every_library_file_defines_one_local_function_of_its_name_and_says_its_arguments(name):
    source = (scripts.LUA_DIR / f"{name}.lua").read_text()
    assert header(name).startswith("-- Library function")
    assert re.findall(r"^local function (\w+)", source, re.MULTILINE) == [name]


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_a_script_is_its_libraries_then_itself_with_nothing_left_to_format(name):
    source = scripts.source(name)
    assert set(scripts.uses(name)) <= LIBRARIES
    for library in scripts.uses(name):
        assert f"local function {library}(" in source
    assert source.endswith((scripts.LUA_DIR / f"{name}.lua").read_text())
    assert "%(" not in source and "%%" not in source  # no Python %-formatting left in the Lua


def test_read_or_lease_is_composed_after_the_functions_it_calls():
    assert scripts.uses("read") == ["current_ns", "record_hot", "stored_parts", "read_or_lease"]
    assert scripts.uses("authenticated_read") == ["current_ns", "record_hot", "stored_parts", "read_or_lease"]


def test_scripts_run_by_name_with_evalsha(fake_redis):
    pytest.importorskip("lupa")
    fake_redis.set("lease", "t")
    assert scripts.run("release", ["lease"], ["someone-else"], fake_redis) == 0
    assert scripts.run("release", ["lease"], ["t"], fake_redis) == 1
    assert fake_redis.script_exists(scripts.script("release", fake_redis).sha) == [True]
