"""Soak: concurrent writers and readers for SOAK_SECONDS (default 20), after which every cached value equals the
database (issue 4, item 3, second proof).

Everything is real: PostgreSQL (triggers -> outbox), the relay flushing on commit in each writer thread, Redis,
and a `celery worker -Q cache` subprocess applying the batches. Writer threads make random committed ORM writes
of every kind the rules know about (save, QuerySet.update, bulk_create, deletes, many-to-many, membership moves);
reader threads call readthrough.read with the real payload functions for every key of the world, so their fills
race the invalidations and the worker's pre-warm fills, and half of their fills are slow (see SLOW_FILL_SHARE).

Readers run throughout. Writers write in bursts of BURST_SECONDS; after each burst (a checkpoint) they pause, the
worker drains the outbox, the reads in flight finish, and each key that the cache would serve (a value of the
current namespace version) must equal its payload computed now from the database. The last checkpoint is the end
of the soak. Nothing here asserts on timing.

Shown to fail: with the lease check removed from the fill script (eventcache/store/ops.py), or the dependents lookup
removed from the recipe rule (eventcache/store/rules.py), this test reports stale keys at most checkpoints.

Run alone, with the counts printed: `pytest tests/faults/test_soak.py -s` (SOAK_SECONDS=60 for longer).
"""

import datetime as dt
import json
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import F

from eventcache.declare import Key
from eventcache.store import keys, ops, readthrough
from planner import cache as planner_cache
from tests.factories import (
    FamilyFactory,
    MealPlanEntryFactory,
    MealPlanFactory,
    RecipeFactory,
    ShoppingListItemFactory,
    TagFactory,
    UserFactory,
    UserPreferencesFactory,
)
from tests.fixtures.worker import outbox_drained, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "20"))
WRITERS = 4
READERS = 4
WRITE_PAUSE_SECONDS = 0.01  # at most, between two writes of one thread
# Back-pressure: writers hold off while more outbox rows than this wait for the worker. On a busy 2-core machine
# the solo worker applies ~10-20 batches/s (each re-fills hot lists); unthrottled writers would leave a backlog
# of minutes. With it the worker keeps pace, whatever the machine, and the final drain stays short.
MAX_BACKLOG = 10
BACKLOG_POLL_SECONDS = 0.05
# Slow fillers: half of the misses pause between their database read and their cache fill (a GC pause, a slow network),
# long enough that the write committed meanwhile has been applied by the worker before the fill is attempted.
# Only the lease stops such a fill from landing (a stale set); a fast filler almost never straddles that window.
SLOW_FILL_SHARE = 0.5
SLOW_FILL_MAX_SECONDS = 1.0
PAGE_SIZE = 1  # one shopping list a page: item, plan, recipe and re-dating writes must each drop the right page
DRAIN_SECONDS = 15  # bound for the worker to process every outbox row once the writers stop
JOIN_SECONDS = 30  # bound for a thread to finish its current operation (only a broken test waits this long)
BURST_SECONDS = 2.5  # writes between two checkpoints

MONDAY = dt.date(2030, 1, 7)
DAYS = [MONDAY + dt.timedelta(days=n) for n in range(4)]
SPARE_DAY = MONDAY + dt.timedelta(days=4)  # no plan at first; writers create and delete one
TAGS = ("quick", "veggie")
INGREDIENTS = [("flour", "g"), ("sugar", "g"), ("milk", "ml"), ("eggs", "piece"), ("rice", "g"), ("butter", "g")]
MEALS = ("breakfast", "lunch", "dinner", "snack")


# --- The world ----------------------------------------------------------------------------------------------


@dataclass
class SoakWorld:
    recipe_ids: list[int]
    tag_ids: list[int]
    family_ids: list[int]
    member_ids: list[int]  # users in a family, each owning shopping lists
    mover_id: int  # a member the writers move between families
    user_ids: list[int]  # every user (members and the author)
    plan_ids: list[int]  # the seeded plans (never deleted; only the spare day's plan comes and goes)
    item_ids: list[int]  # stored shopping-list rows (generated-line states and manual items)
    midweek_ids: list[int]  # the second list of some members: re-dated by the writers, which swaps their two pages
    two_lists_ids: list[int]  # the members owning one: their lists fill pages 1 and 2 (one list a page here)

    def reads(self) -> list[tuple[Key, object]]:
        """(key, compute) for every cached read of the world, as the API makes them."""
        from planner import payloads

        reads = [(planner_cache.recipe(r), partial(payloads.recipe_detail, r)) for r in self.recipe_ids]
        reads += [(planner_cache.recipe_list(tag, 1), partial(payloads.recipe_list, tag, 1)) for tag in (None, *TAGS)]
        reads += [
            (planner_cache.meal_plan(day, f), partial(payloads.meal_plan, f, day))
            for day in (*DAYS, SPARE_DAY)
            for f in self.family_ids
        ]
        reads += [
            (planner_cache.shopping_lists(u, page), partial(payloads.shopping_lists, u, page, PAGE_SIZE))
            for u in self.member_ids
            for page in ((1, 2) if u in self.two_lists_ids else (1,))
        ]
        reads += [(planner_cache.preferences(u), partial(payloads.preferences, u)) for u in self.user_ids]
        reads += [(planner_cache.identity(u), partial(payloads.identity, u)) for u in self.user_ids]
        return reads


def seed_world(rng: random.Random) -> SoakWorld:
    """3 families of 2 members, 20 recipes sharing ingredients and tags, 4 days of plans whose entries share
    recipes, a list per member (two for some, with manual items), preferences for half the users."""
    from planner import shopping
    from planner.models import ShoppingListItem

    author = UserFactory(username="soak-author")
    tags = [TagFactory(name=name) for name in TAGS]
    recipes = []
    for n in range(20):
        servings = rng.randint(1, 4)
        lines = [(name, rng.randint(1, 500), unit) for name, unit in rng.sample(INGREDIENTS, rng.randint(2, 4))]
        recipe_tags = [tag.name for tag in rng.sample(tags, rng.randint(0, 2))]
        recipes.append(
            RecipeFactory(author=author, title=f"Dish {n}", servings=servings, ingredients=lines, tags=recipe_tags)
        )
    shared = recipes[:8]  # the plans draw from these, so families and days share recipes

    families, members, plans = [], [], []
    for f in range(3):
        family = FamilyFactory(name=f"Family {f}")
        families.append(family)
        members += [UserFactory(username=f"soak-{f}-{m}", family=family) for m in range(2)]
        for day in DAYS:
            plan = MealPlanFactory(family=family, date=day)
            plans.append(plan)
            for meal in rng.sample(MEALS, 2):
                MealPlanEntryFactory(meal_plan=plan, meal=meal, recipe=rng.choice(shared), servings=rng.randint(1, 6))

    midweek = []
    for index, user in enumerate(members):
        family_id = user.membership.family_id
        week = shopping.create_list(user.id, family_id, DAYS[0], DAYS[-1], name="week")
        ShoppingListItemFactory(shopping_list=week, ingredient="coffee", unit="g", quantity=250)
        if index % 2 == 0:
            midweek.append(shopping.create_list(user.id, family_id, DAYS[1], DAYS[2], name="midweek"))
            UserPreferencesFactory(user=user, diet="vegetarian", default_servings=2)

    users = [*members, author]
    return SoakWorld(
        recipe_ids=[r.id for r in recipes],
        tag_ids=[t.id for t in tags],
        family_ids=[f.id for f in families],
        member_ids=[u.id for u in members],
        mover_id=members[-1].id,
        user_ids=[u.id for u in users],
        plan_ids=[p.id for p in plans],
        item_ids=list(ShoppingListItem.objects.filter(shopping_list__owner__in=members).values_list("id", flat=True)),
        midweek_ids=[sl.id for sl in midweek],
        two_lists_ids=[sl.owner_id for sl in midweek],
    )


# --- Writers: one random committed write per call, through the ORM -------------------------------------------


def save_recipe(rng, world):
    from planner.models import Recipe

    recipe = Recipe.objects.get(pk=rng.choice(world.recipe_ids))
    recipe.title = f"Dish {recipe.id} v{rng.randint(1, 10**6)}"
    recipe.servings = rng.randint(1, 6)
    recipe.save()


def update_recipes(rng, world):
    from planner.models import Recipe

    ids = sorted(rng.sample(world.recipe_ids, 3))
    if rng.random() < 0.5:
        Recipe.objects.filter(pk__in=ids).update(servings=rng.randint(1, 6))
    else:
        Recipe.objects.filter(pk__in=ids).update(
            prep_minutes=F("prep_minutes") + 1, title=f"Batch {rng.randint(1, 10**6)}"
        )


def change_ingredient(rng, world):
    from planner.models import RecipeIngredient

    recipe_id = rng.choice(world.recipe_ids)
    lines = list(RecipeIngredient.objects.filter(recipe_id=recipe_id))
    choice = rng.random()
    if lines and choice < 0.6:
        line = rng.choice(lines)
        line.quantity = rng.randint(1, 500)
        line.save()
    elif len(lines) > 1 and choice < 0.8:
        rng.choice(lines).delete()
    else:
        ingredient, unit = rng.choice(INGREDIENTS)
        RecipeIngredient.objects.create(
            recipe_id=recipe_id, ingredient=ingredient, quantity=rng.randint(1, 500), unit=unit
        )


def toggle_tag(rng, world):
    from planner.models import Recipe

    recipe = Recipe.objects.get(pk=rng.choice(world.recipe_ids))
    tag_id = rng.choice(world.tag_ids)
    if recipe.tags.filter(pk=tag_id).exists():
        recipe.tags.remove(tag_id)
    else:
        recipe.tags.add(tag_id)


def add_entry(rng, world):
    from planner.models import MealPlanEntry

    MealPlanEntry.objects.create(
        meal_plan_id=rng.choice(world.plan_ids),
        meal=rng.choice(MEALS),
        recipe_id=rng.choice(world.recipe_ids),
        servings=rng.randint(1, 6),
    )


def remove_entry(rng, world):
    from planner.models import MealPlanEntry

    entry = MealPlanEntry.objects.filter(meal_plan_id=rng.choice(world.plan_ids)).order_by("?").first()
    if entry is not None:
        entry.delete()


def replace_entries(rng, world):
    """What PUT /api/meal-plans/{date}/ does: delete the entries and bulk_create new ones, in one transaction."""
    from planner.models import MealPlanEntry

    plan_id = rng.choice(world.plan_ids)
    with transaction.atomic():
        MealPlanEntry.objects.filter(meal_plan_id=plan_id).delete()
        MealPlanEntry.objects.bulk_create(
            MealPlanEntry(
                meal_plan_id=plan_id, meal=meal, recipe_id=rng.choice(world.recipe_ids), servings=rng.randint(1, 6)
            )
            for meal in rng.sample(MEALS, rng.randint(1, 3))
        )


def spare_day_plan(rng, world):
    """Create the spare day's plan for a family (with entries), or delete it (its entries go with it)."""
    from planner.models import MealPlan, MealPlanEntry

    family_id = rng.choice(world.family_ids)
    with transaction.atomic():
        plan = MealPlan.objects.filter(family_id=family_id, date=SPARE_DAY).first()
        if plan is not None:
            plan.delete()
        else:
            plan = MealPlan.objects.create(family_id=family_id, date=SPARE_DAY)
            MealPlanEntry.objects.bulk_create(
                [MealPlanEntry(meal_plan=plan, meal="dinner", recipe_id=rng.choice(world.recipe_ids), servings=2)]
            )


def toggle_item(rng, world):
    from planner.models import ShoppingListItem

    item_id = rng.choice(world.item_ids)
    if rng.random() < 0.5:
        item = ShoppingListItem.objects.get(pk=item_id)
        item.checked = not item.checked
        item.save(update_fields=["checked"])
    else:
        ShoppingListItem.objects.filter(pk=item_id).update(checked=~F("checked"))


def redate_list(rng, world):
    """Start a midweek list a day earlier or later: with DAYS[0] it ties the week list's start and goes after it
    (the lower id first), so the two lists swap pages."""
    from planner.models import ShoppingList

    ShoppingList.objects.filter(pk=rng.choice(world.midweek_ids)).update(start=rng.choice(DAYS[:2]))


def change_preferences(rng, world):
    from planner.models import UserPreferences

    UserPreferences.objects.update_or_create(
        user_id=rng.choice(world.user_ids),
        defaults={
            "diet": rng.choice(["omnivore", "vegetarian", "vegan", "pescatarian"]),
            "default_servings": rng.randint(1, 8),
            "unit_system": rng.choice(["metric", "imperial"]),
            "disliked_ingredients": rng.sample([name for name, _ in INGREDIENTS], rng.randint(0, 2)),
        },
    )


def move_member(rng, world):
    from planner.models import FamilyMembership

    FamilyMembership.objects.filter(user_id=world.mover_id).update(family_id=rng.choice(world.family_ids))


WRITES = {
    save_recipe: 3,
    update_recipes: 2,
    change_ingredient: 3,
    toggle_tag: 1,
    add_entry: 2,
    remove_entry: 2,
    replace_entries: 2,
    spare_day_plan: 1,
    toggle_item: 3,
    redate_list: 1,
    change_preferences: 2,
    move_member: 1,
}


# --- Threads ------------------------------------------------------------------------------------------------


def slow_fill(compute, pause: float):
    def computed_then_paused():
        payload = compute()
        time.sleep(pause)
        return payload

    return computed_then_paused


class Soak:
    """Writer, reader and back-pressure threads over one world. Readers run from start() to finish(); writers
    write while `writing` is set, so a checkpoint can pause them, let the worker drain and compare the cache."""

    def __init__(self, world: SoakWorld):
        self.world = world
        self.stop, self.writing, self.keeping_up = threading.Event(), threading.Event(), threading.Event()
        self.counts, self.errors, self.lock = Counter(), [], threading.Lock()
        self.writers = [threading.Thread(target=self._thread, args=(self._write, 1000 + n)) for n in range(WRITERS)]
        self.readers = [threading.Thread(target=self._thread, args=(self._read, 2000 + n)) for n in range(READERS)]
        self.monitor = threading.Thread(target=self._thread, args=(self._watch_backlog, 0))
        self.busy_since: dict[threading.Thread, float | None] = {t: None for t in [*self.writers, *self.readers]}

    def count(self, *names: str) -> None:
        with self.lock:
            self.counts.update(names)

    def _thread(self, loop, seed: int) -> None:
        try:
            loop(random.Random(seed), threading.current_thread())
        except BaseException as exc:  # reported by the test
            self.errors.append(f"{threading.current_thread().name}: {exc!r}")
        finally:
            connection.close()  # each thread used its own database connection

    def _write(self, rng: random.Random, me: threading.Thread) -> None:
        operations, weights = list(WRITES), list(WRITES.values())
        while not self.stop.is_set():
            self.busy_since[me] = time.monotonic()  # before looking at `writing`: see quiesce()
            if self.writing.is_set() and self.keeping_up.is_set():
                operation = rng.choices(operations, weights)[0]
                try:
                    operation(rng, self.world)
                    self.count("writes", f"write:{operation.__name__}")
                except DatabaseError:
                    # Writers race each other (deadlocks, unique conflicts): the transaction rolled back, so it
                    # wrote nothing and produced no event. Counted, not a failure.
                    self.count("writes rolled back")
            self.busy_since[me] = None
            time.sleep(rng.uniform(0, WRITE_PAUSE_SECONDS) if self.writing.is_set() else BACKLOG_POLL_SECONDS)

    def _read(self, rng: random.Random, me: threading.Thread) -> None:
        reads = self.world.reads()
        while not self.stop.is_set():
            key, compute = rng.choice(reads)
            if rng.random() < SLOW_FILL_SHARE:
                compute = slow_fill(compute, rng.uniform(0, SLOW_FILL_MAX_SECONDS))
            self.busy_since[me] = time.monotonic()
            result = readthrough.read(key, compute)
            self.busy_since[me] = None
            self.count("reads", "hits" if result.hit else "misses (computed)")

    def _watch_backlog(self, rng: random.Random, me: threading.Thread) -> None:
        """Sets `keeping_up` while at most MAX_BACKLOG outbox rows wait for the worker."""
        from eventcache.models import OutboxEvent

        try:
            while not self.stop.is_set():
                backlog = OutboxEvent.objects.filter(processed_at__isnull=True).count()
                with self.lock:
                    self.counts["largest backlog"] = max(self.counts["largest backlog"], backlog)
                self.keeping_up.set() if backlog <= MAX_BACKLOG else self.keeping_up.clear()
                self.stop.wait(BACKLOG_POLL_SECONDS)
        finally:
            self.keeping_up.set()

    def start(self) -> None:
        self.writing.set()
        for thread in [self.monitor, *self.readers, *self.writers]:
            thread.start()

    def quiesce(self, worker) -> None:
        """Pause the writers, wait until the worker has processed every outbox row, then until every read that
        was in flight meanwhile has finished (its fill landed or was refused). Readers keep reading."""
        self.writing.clear()
        writers_idle = wait_until(lambda: all(self.busy_since[t] is None for t in self.writers), JOIN_SECONDS)
        assert writers_idle, f"a writer did not finish its write within {JOIN_SECONDS} s"
        if not wait_until(outbox_drained, DRAIN_SECONDS):
            raise AssertionError(undrained_report(worker))
        drained_at = time.monotonic()
        settled = wait_until(
            lambda: all(self.busy_since[t] is None or self.busy_since[t] > drained_at for t in self.readers),
            JOIN_SECONDS,
        )
        assert settled, f"a read did not finish within {JOIN_SECONDS} s"

    def resume(self) -> None:
        self.writing.set()

    def finish(self) -> None:
        self.stop.set()
        for thread in [*self.writers, *self.readers, self.monitor]:
            thread.join(JOIN_SECONDS)
            assert not thread.is_alive(), f"{thread.name} did not stop within {JOIN_SECONDS} s"


def undrained_report(worker) -> str:
    from eventcache.models import OutboxEvent

    pending = OutboxEvent.objects.filter(processed_at__isnull=True)
    return (
        f"{pending.count()} outbox row(s) still unprocessed after {DRAIN_SECONDS} s "
        f"({pending.filter(sent_at__isnull=True).count()} never sent), e.g. "
        f"{list(pending.values_list('id', 'kind', 'sent_at')[:5])}\nworker log:\n{worker.log()[-3000:]}"
    )


# --- The check ----------------------------------------------------------------------------------------------


def served_body(conn, key: Key):
    """The parsed body the cache would serve for `key` (a value of the current namespace version), else None."""
    raw = conn.get(ops.full_name(key.name))
    if raw is None:
        return None
    value = json.loads(raw)
    if str(value["ns"]).encode() != conn.get(ops.full_name(keys.namespace(key.family))):
        return None  # its family's namespace was bumped since: never served again
    return value["body"]


def stale_keys(conn, world: SoakWorld) -> tuple[list[str], int]:
    """(the keys whose served value differs from the database now, with both values; how many were cached)."""
    stale, cached = [], 0
    for key, compute in world.reads():
        body = served_body(conn, key)
        if body is None:
            continue
        cached += 1
        expected = json.loads(readthrough.encode(compute()))
        if body != expected:
            stale.append(
                f"{key.name}\n    cached:   {json.dumps(body)[:400]}\n    database: {json.dumps(expected)[:400]}"
            )
    return stale, cached


def test_after_a_soak_of_concurrent_writers_and_readers_every_cached_value_equals_the_database(
    start_worker_process, redis_conn, broker_conn, settings
):
    """Readers run throughout; writers write for SOAK_SECONDS in bursts of ~BURST_SECONDS. After each burst
    (a checkpoint) and at the end, every key the cache would serve must equal the database. Each checkpoint
    is an end of the soak in miniature: a stale set only survives if it lands after the last invalidation of
    its key, so several checkpoints give a broken lease several chances to show."""
    from eventcache.models import OutboxEvent

    settings.SHOPPING_LISTS_PAGE_SIZE = PAGE_SIZE
    world = seed_world(random.Random(7))
    worker = start_worker_process(SHOPPING_LISTS_PAGE_SIZE=PAGE_SIZE)
    assert wait_until(outbox_drained, DRAIN_SECONDS * 2), undrained_report(worker)

    bursts = max(1, round(SOAK_SECONDS / BURST_SECONDS))
    soak = Soak(world)
    print(
        f"\nsoak: {SOAK_SECONDS:g} s of writes in {bursts} bursts, {WRITERS} writers, {READERS} readers, "
        f"a celery worker subprocess; {len(world.reads())} keys"
    )
    stale_at, cached = {}, 0
    soak.start()
    try:
        for burst in range(1, bursts + 1):
            soak.resume()
            soak.stop.wait(SOAK_SECONDS / bursts)
            soak.quiesce(worker)
            stale, cached = stale_keys(redis_conn, world)
            print(
                f"  checkpoint {burst}: writes {soak.counts['writes']}, keys served from the cache {cached}, stale {len(stale)}"
            )
            if stale:
                stale_at[burst] = stale
    finally:
        soak.finish()

    counts = soak.counts
    print(
        f"  writes {counts['writes']} ({counts['writes rolled back']} rolled back by conflicts): "
        + ", ".join(f"{name[6:]} {n}" for name, n in sorted(counts.items()) if name.startswith("write:"))
    )
    print(
        f"  reads {counts['reads']}: hits {counts['hits']}, misses {counts['misses (computed)']} "
        "(computed; filled when the lease still held)"
    )
    print(
        f"  outbox rows {OutboxEvent.objects.count()} (at most {counts['largest backlog']} waiting at once), "
        f"worker batches {worker.log().count('batch: ')}"
    )

    assert not soak.errors, soak.errors
    assert counts["writes"] > 0 and counts["hits"] > 0 and counts["misses (computed)"] > 0, counts
    assert cached > 0, "nothing was cached at the end: the check compared nothing"
    assert not stale_at, "cached values that differ from the database:\n" + "\n".join(
        f"checkpoint {burst}: {name}" for burst, names in stale_at.items() for name in names
    )
