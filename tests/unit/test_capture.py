"""eventcache/capture/triggers.py: the capture table agrees with the event schema and the models, and its generated
trigger SQL covers every captured table and operation. (The triggers themselves are exercised against a
real database in tests/integration/test_capture.py.)"""

import re

import pytest
from django.apps import apps

from eventcache import events as schema
from eventcache.capture import triggers
from eventcache.declare import DELETE, INSERT, UPDATE
from planner import cache
from planner.cache import CAPTURES

# Tables whose changes no cached read depends on, and why.
NOT_CAPTURED = {
    "planner_family": "a family's name is shown by no cached read; its members and plans are captured",
}


def test_every_capture_produces_a_schema_kind_with_exactly_its_data_fields():
    for entry in CAPTURES:
        assert entry.kind in cache.KINDS, entry
        assert set(entry.data) == set(schema.data_fields(entry.kind)), entry


def test_every_schema_kind_is_produced_by_some_capture():
    assert {entry.kind for entry in CAPTURES} == set(cache.KINDS)


def test_captured_tables_are_real_model_tables_and_every_domain_table_is_captured():
    model_tables = {model._meta.db_table for model in apps.get_models(include_auto_created=True)}
    planner_tables = {
        model._meta.db_table for model in apps.get_app_config("planner").get_models(include_auto_created=True)
    }
    assert set(triggers.captured_tables()) <= model_tables
    assert planner_tables - set(triggers.captured_tables()) == set(NOT_CAPTURED)
    assert "auth_user" in triggers.captured_tables()


def test_each_table_and_operation_has_one_meaning():
    seen = set()
    for entry in CAPTURES:
        for operation in entry.operations:
            assert operation in (INSERT, UPDATE, DELETE)
            assert (entry.table, operation) not in seen, f"{entry.table} {operation} is captured twice"
            seen.add((entry.table, operation))


def test_the_outbox_itself_is_never_captured():
    assert triggers.OUTBOX_TABLE not in triggers.captured_tables()


def test_a_login_is_not_a_user_change():
    (user_capture,) = [c for c in CAPTURES if c.table == "auth_user" and UPDATE in c.operations]
    assert "last_login" not in user_capture.update_of
    assert "password" in user_capture.update_of


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_generated_sql_has_a_trigger_for_every_captured_table_and_operation(vendor):
    install_sql = "\n".join(getattr(triggers, f"{vendor}_install_sql")())
    for table in triggers.captured_tables():
        operations = {op for c in CAPTURES if c.table == table for op in c.operations}
        if vendor == "postgresql":
            (clause,) = re.findall(rf"CREATE TRIGGER \w+ AFTER (.+?) ON {table} FOR EACH ROW", install_sql)
            assert {op for op in (INSERT, UPDATE, DELETE) if op in clause} == operations
        else:
            found = set(
                re.findall(rf"CREATE TRIGGER \w+ AFTER (INSERT|UPDATE|DELETE)\b[^;]*? ON {table} FOR EACH", install_sql)
            )
            assert found == operations
    for entry in CAPTURES:
        assert f"'{entry.kind.kind}'" in install_sql


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_uninstall_drops_what_install_creates(vendor):
    install_sql = "\n".join(getattr(triggers, f"{vendor}_install_sql")())
    uninstall_sql = "\n".join(getattr(triggers, f"{vendor}_uninstall_sql")())
    created = set(re.findall(r"CREATE TRIGGER (\w+)", install_sql))
    dropped = set(re.findall(r"DROP TRIGGER IF EXISTS (\w+)", uninstall_sql))
    assert created and created == dropped
