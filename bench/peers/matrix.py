"""The correctness matrix of issue 13: 12 kinds of write, then a read through the approach's cache compared with
the database. A row is `correct` when both reads that show the written recipe - its detail and the meal plan
that uses it - equal what a fresh query of the database returns, else `STALE`.

Each row builds its own small world (a cook, a recipe with one ingredient line, a family whose plan for a day
uses the recipe), warms the two reads (except where the row says cold), writes, lets the approach settle
(ours: the worker applies the outbox; the peers invalidate synchronously) and checks. The truth is read
over a separate psycopg connection with plain SQL, so no cache and no ORM patch can colour it.

Used by `python -m bench peers` (one process per approach) and by tests/integration/test_peers_matrix.py
(ours alone).
"""

import datetime as dt
import itertools
import os
import subprocess
import threading
import uuid
from dataclasses import dataclass

from django.db import connection, transaction

WAIT = 15  # seconds; only a bound for a broken row, never slept
DAY = dt.date(2031, 1, 6)
_serial = itertools.count(1)


@dataclass
class World:
    recipe_id: int
    family_id: int
    day: dt.date


class Rollback(Exception):
    pass


# --- the truth: plain SQL on a connection of its own ------------------------------------------------------


def _dsn() -> dict:
    db = connection.settings_dict
    params = {
        "dbname": db["NAME"],
        "user": db["USER"] or os.environ.get("PGUSER", "postgres"),
        "host": db["HOST"] or "127.0.0.1",
        "port": db["PORT"] or 5432,
    }
    if db.get("PASSWORD"):
        params["password"] = db["PASSWORD"]
    return params


def truth(world: World) -> tuple:
    import psycopg

    with psycopg.connect(**_dsn(), autocommit=True) as conn:
        row = conn.execute("SELECT title FROM planner_recipe WHERE id = %s", (world.recipe_id,)).fetchone()
        recipe = None
        if row:
            lines = conn.execute(
                "SELECT ingredient FROM planner_recipeingredient WHERE recipe_id = %s", (world.recipe_id,)
            )
            tags = conn.execute(
                "SELECT t.name FROM planner_tag t JOIN planner_recipe_tags rt ON rt.tag_id = t.id "
                "WHERE rt.recipe_id = %s",
                (world.recipe_id,),
            )
            recipe = (row[0], tuple(sorted(r[0] for r in lines)), tuple(sorted(r[0] for r in tags)))
        plan = conn.execute(
            "SELECT e.id, r.title FROM planner_mealplanentry e JOIN planner_mealplan p ON p.id = e.meal_plan_id "
            "JOIN planner_recipe r ON r.id = e.recipe_id WHERE p.family_id = %s AND p.date = %s ORDER BY e.id",
            (world.family_id, world.day),
        )
        return recipe, tuple((r[0], r[1]) for r in plan)


def seen(approach, world: World) -> tuple:
    payload = approach.read_recipe(world.recipe_id)
    recipe = None
    if payload is not None:
        recipe = (
            payload["title"],
            tuple(sorted(i["ingredient"] for i in payload["ingredients"])),
            tuple(sorted(payload["tags"])),
        )
    plan = approach.read_meal_plan(world.family_id, world.day)
    return recipe, tuple((e["id"], e["recipe"]["title"]) for e in plan["entries"])


def warm(approach, world: World) -> None:
    seen(approach, world)


# --- a world per row ---------------------------------------------------------------------------------------


def make_world() -> World:
    from django.contrib.auth import get_user_model

    from planner.models import Family, MealPlan, MealPlanEntry, Recipe, RecipeIngredient

    n = f"{next(_serial)}-{uuid.uuid4().hex[:6]}"
    cook = get_user_model().objects.create(username=f"matrix-{n}")
    recipe = Recipe.objects.create(author=cook, title=f"old title {n}", servings=2)
    RecipeIngredient.objects.create(recipe=recipe, ingredient="flour", quantity=200, unit="g")
    family = Family.objects.create(name=f"matrix family {n}")
    plan = MealPlan.objects.create(family=family, date=DAY)
    MealPlanEntry.objects.create(meal_plan=plan, meal="dinner", recipe=recipe, servings=2)
    return World(recipe.id, family.id, DAY)


def _recipe(world):
    from planner.models import Recipe

    return Recipe.objects.get(pk=world.recipe_id)


# --- the 12 writes (approach, world) -> None; warmed before, unless the row is cold --------------------------


def w_save(a, w):
    r = _recipe(w)
    r.title = "saved title"
    r.save()


def w_related_save(a, w):
    from planner.models import RecipeIngredient

    line = RecipeIngredient.objects.filter(recipe_id=w.recipe_id).first()
    line.ingredient = "rye flour"
    line.save()


def w_update(a, w):
    from planner.models import Recipe

    Recipe.objects.filter(pk=w.recipe_id).update(title="updated title")


def w_bulk_create(a, w):
    from planner.models import RecipeIngredient

    RecipeIngredient.objects.bulk_create(
        [RecipeIngredient(recipe_id=w.recipe_id, ingredient="salt", quantity=1, unit="g")]
    )


def w_bulk_update(a, w):
    from planner.models import Recipe

    r = _recipe(w)
    r.title = "bulk-updated title"
    Recipe.objects.bulk_update([r], ["title"])


def w_delete_used(a, w):
    _recipe(w).delete()


def w_m2m(a, w):
    from planner.models import Tag

    tag = Tag.objects.create(name=f"tag-{uuid.uuid4().hex[:8]}")
    _recipe(w).tags.add(tag)


def w_raw_sql(a, w):
    with connection.cursor() as cur:
        cur.execute("UPDATE planner_recipe SET title = %s WHERE id = %s", ["raw title", w.recipe_id])


def w_other_process(a, w):
    dsn = _dsn()
    env = {
        **os.environ,
        "PGHOST": str(dsn["host"]),
        "PGPORT": str(dsn["port"]),
        "PGUSER": dsn["user"],
        "PGDATABASE": dsn["dbname"],
    }
    if "password" in dsn:
        env["PGPASSWORD"] = dsn["password"]
    subprocess.run(
        [
            "psql",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            f"UPDATE planner_recipe SET title = 'psql title' WHERE id = {int(w.recipe_id)}",
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=WAIT,
    )


def w_rollback_warm(a, w):
    try:
        with transaction.atomic():
            r = _recipe(w)
            r.title = "rolled-back title"
            r.save()
            raise Rollback
    except Rollback:
        pass


def w_rollback_after_read(a, w):
    """Cold keys: the read inside the transaction sees the uncommitted title and may fill the cache with it."""
    try:
        with transaction.atomic():
            r = _recipe(w)
            r.title = "never committed title"
            r.save()
            seen(a, w)
            raise Rollback
    except Rollback:
        pass


def w_stale_set_race(a, w):
    """Cold key: a reader reads the old row, pauses before storing it; meanwhile the write commits and its
    invalidation completes; then the reader stores what it read. Paused with Django's execute_wrapper in the
    reader's own thread (its own connection), right after its first SELECT of the recipe table."""
    has_read, resume = threading.Event(), threading.Event()
    errors = []

    def pause_after_recipe_select(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if (
            not has_read.is_set()
            and isinstance(sql, str)
            and sql.lstrip().upper().startswith("SELECT")
            and '"planner_recipe"' in sql
        ):
            has_read.set()
            resume.wait(WAIT)
        return result

    def reader():
        try:
            with connection.execute_wrapper(pause_after_recipe_select):
                a.read_recipe(w.recipe_id)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    if not has_read.wait(WAIT):
        raise RuntimeError("the reader never read the recipe row")
    r = _recipe(w)
    r.title = "raced title"
    r.save()
    a.settle()
    resume.set()
    thread.join(WAIT)
    if thread.is_alive() or errors:
        raise RuntimeError(f"the racing reader did not finish cleanly: {errors}")


@dataclass(frozen=True)
class Row:
    number: int
    name: str
    write: object
    warm: bool = True


ROWS = [
    Row(1, "save()", w_save),
    Row(2, "related save (ingredient line)", w_related_save),
    Row(3, ".update()", w_update),
    Row(4, "bulk_create (ingredient line)", w_bulk_create),
    Row(5, "bulk_update", w_bulk_update),
    Row(6, "delete of a used recipe", w_delete_used),
    Row(7, "m2m (tag added)", w_m2m),
    Row(8, "raw SQL UPDATE", w_raw_sql),
    Row(9, "a second process (psql)", w_other_process),
    Row(10, "rollback with warm keys", w_rollback_warm),
    Row(11, "rollback after a read inside the transaction", w_rollback_after_read, warm=False),
    Row(12, "stale-set race (fill paused across the write)", w_stale_set_race, warm=False),
]


@dataclass
class Outcome:
    row: Row
    correct: bool
    expected: tuple
    got: tuple


def run_row(approach, row: Row) -> Outcome:
    world = make_world()
    approach.settle()
    if row.warm:
        warm(approach, world)
    row.write(approach, world)
    approach.settle()
    got, expected = seen(approach, world), truth(world)
    return Outcome(row, got == expected, expected, got)


def run_all(approach) -> list[Outcome]:
    return [run_row(approach, row) for row in ROWS]
