"""What the recipe planner caches, declared in one place for the engine (eventcache; docs/ARCHITECTURE.md):

    key families + key functions    each cached read's key pattern, TTL and payload function
    event kinds                     what can happen to the data, ids and plain values only
    CAPTURES                        which table writes produce which events (database triggers)
    RULES + their look-ups          which keys each event touches; dependents found by ONE batched query
    REFILL                          keys computed again right after they are dropped
    WARMERS                         beat jobs keeping values warm ahead of expiry

Key names are unprefixed here (`recipe:42`, stored as the hash tag `{recipe:42}`); django-redis adds
`recipe_planner:1:`, so `redis-cli` shows `recipe_planner:1:{recipe:42}`. A new cached read is a family, its payload and a rule here; nothing in the engine.
"""

import datetime as dt
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from eventcache import declare
from eventcache.declare import ALL, DATE, DELETE, ID, INSERT, SLUG, UPDATE, Capture, Family, Key, Rule
from eventcache.events import Event, IsoDate
from planner import payloads
from planner.models import FamilyMembership, MealPlan, MealPlanEntry, Recipe, ShoppingList

MINUTE = 60
HOUR = 60 * MINUTE

# ---- Key families: name (stats, `manage.py invalidate NAME`, the namespace key), pattern, TTL, payload ----------

RECIPE = Family("recipe", "recipe:{recipe_id}", 30 * MINUTE, {"recipe_id": ID}, payloads.recipe_detail)
RECIPE_LIST = Family(
    "recipe_list",
    "api:recipes:tag={tag}:page={page}",
    5 * MINUTE,
    {"tag": declare.optional(SLUG), "page": ID},
    payloads.recipe_list,
)
MEAL_PLAN = Family(
    "meal_plan",
    "meal_plan:{date}:{family_id}",
    30 * MINUTE,
    {"date": DATE, "family_id": ID},
    lambda date, family_id: payloads.meal_plan(family_id, date),
)
# A page of a user's shopping lists (GET /api/shopping-lists/?page=N). The page size is part of the name, so a
# changed SHOPPING_LISTS_PAGE_SIZE never serves a page cut at the old size. Reads are counted in a decaying hot set:
# the hottest pages (mostly page 1) are re-filled at once after a write, and kept warm.
SHOPPING_LISTS = Family(
    "shopping_lists",
    "user:{user_id}:shopping_lists:size={size}:page={page}",
    30 * MINUTE,
    {"user_id": ID, "size": ID, "page": ID},
    lambda user_id, size, page: payloads.shopping_lists(user_id, page, size),
    hot=True,
)
PREFERENCES = Family("preferences", "user:{user_id}:preferences", 24 * HOUR, {"user_id": ID}, payloads.preferences)
# What api.identity needs to know about the caller, so cached reads skip the users table.
IDENTITY = Family("identity", "user:{user_id}:identity", 30 * MINUTE, {"user_id": ID}, payloads.identity)
STATIC_CONFIG = Family("config", "config:{name}", None, {"name": SLUG})  # never expires

FAMILIES = (RECIPE, RECIPE_LIST, MEAL_PLAN, SHOPPING_LISTS, PREFERENCES, IDENTITY, STATIC_CONFIG)


def recipe(recipe_id: int) -> Key:
    return RECIPE.key(recipe_id=recipe_id)


def recipe_list(tag: str | None, page: int) -> Key:
    return RECIPE_LIST.key(tag=tag, page=page)


def meal_plan(date: dt.date, family_id: int) -> Key:
    return MEAL_PLAN.key(date=date, family_id=family_id)


def shopping_lists_max_pages() -> int:
    """How many pages a user's lists can fill: only these pages are cached (a page past them can only exist for lists
    made past the cap by the admin or SQL, and is computed without the cache)."""
    return -(-settings.SHOPPING_LISTS_MAX_PER_USER // settings.SHOPPING_LISTS_PAGE_SIZE)


def shopping_lists(user_id: int, page: int = 1) -> Key:
    """The key of page `page` of the user's lists (1 <= page <= shopping_lists_max_pages())."""
    return SHOPPING_LISTS.key(user_id=user_id, size=settings.SHOPPING_LISTS_PAGE_SIZE, page=page)


def shopping_list_pages(user_id: int) -> list[Key]:
    """Every page key the user can have: what a list added, removed or re-dated (which moves the lists after it) or a
    new family (which changes every list's lines) touches."""
    return [shopping_lists(user_id, page) for page in range(1, shopping_lists_max_pages() + 1)]


def shopping_list_page_of_rank(user_id: int, rank: int) -> list[Key]:
    """The page showing the user's `rank`-th list (1-based, in the API's order), if that page is cached at all."""
    page = (rank - 1) // settings.SHOPPING_LISTS_PAGE_SIZE + 1
    return [shopping_lists(user_id, page)] if page <= shopping_lists_max_pages() else []


def preferences(user_id: int) -> Key:
    return PREFERENCES.key(user_id=user_id)


def identity(user_id: int) -> Key:
    return IDENTITY.key(user_id=user_id)


def static_config(name: str) -> Key:
    return STATIC_CONFIG.key(name=name)


# ---- Event kinds ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecipeChanged(Event):
    kind: ClassVar[str] = "recipe.changed"
    recipe_id: int


@dataclass(frozen=True)
class RecipeDeleted(Event):
    kind: ClassVar[str] = "recipe.deleted"
    recipe_id: int


@dataclass(frozen=True)
class TagChanged(Event):
    kind: ClassVar[str] = "tag.changed"
    tag_id: int


@dataclass(frozen=True)
class MealPlanChanged(Event):
    kind: ClassVar[str] = "meal_plan.changed"
    family_id: int
    date: IsoDate


@dataclass(frozen=True)
class ShoppingListChanged(Event):
    """A list was added, removed or changed: the lists after it may have moved to another page."""

    kind: ClassVar[str] = "shopping_list.changed"
    user_id: int


@dataclass(frozen=True)
class ShoppingListItemChanged(Event):
    """An item of list `list_id` changed; `rank` is the list's 1-based place among its owner's lists (the API's
    order) when the write ran, so the web process can drop its page without asking the database."""

    kind: ClassVar[str] = "shopping_list.item_changed"
    user_id: int
    list_id: int
    rank: int


@dataclass(frozen=True)
class PreferencesChanged(Event):
    kind: ClassVar[str] = "preferences.changed"
    user_id: int


@dataclass(frozen=True)
class UserChanged(Event):
    kind: ClassVar[str] = "user.changed"
    user_id: int


@dataclass(frozen=True)
class FamilyMembershipChanged(Event):
    kind: ClassVar[str] = "family.membership_changed"
    family_id: int
    user_id: int


KINDS = (
    RecipeChanged,
    RecipeDeleted,
    TagChanged,
    MealPlanChanged,
    ShoppingListChanged,
    ShoppingListItemChanged,
    PreferencesChanged,
    UserChanged,
    FamilyMembershipChanged,
)

# ---- Captures: which table and operation produce which event (eventcache.capture.triggers writes the SQL) ------
# Each data field is an SQL expression over {row} (NEW or OLD). A change here needs a migration that calls
# eventcache.capture.triggers.install again (as eventcache's migration 0002 does).

_MEAL_PLAN_OF_ENTRY = "(SELECT {col} FROM planner_mealplan WHERE id = {{row}}.meal_plan_id)"
_OWNER_OF_ITEM = "(SELECT owner_id FROM planner_shoppinglist WHERE id = {row}.shopping_list_id)"
# The item's list's 1-based place among its owner's lists, in the model's order (ShoppingList.Meta.ordering:
# newest start first, then id): 1 + the lists before it.
_RANK_OF_ITEMS_LIST = (
    "(SELECT count(*) + 1 FROM planner_shoppinglist l JOIN planner_shoppinglist o ON o.owner_id = l.owner_id"
    ' WHERE l.id = {row}.shopping_list_id AND (o."start" > l."start" OR (o."start" = l."start" AND o.id < l.id)))'
)

# auth_user: every column but last_login, so logging in (which only sets last_login) is not a change.
_USER_COLUMNS = ("password", "is_superuser", "username", "first_name", "last_name", "email", "is_staff", "is_active")

CAPTURES: tuple[Capture, ...] = (
    # table                       operations        kind                     data
    Capture("planner_recipe", (INSERT, UPDATE), RecipeChanged, {"recipe_id": "{row}.id"}),
    Capture("planner_recipe", (DELETE,), RecipeDeleted, {"recipe_id": "{row}.id"}),
    Capture("planner_recipeingredient", ALL, RecipeChanged, {"recipe_id": "{row}.recipe_id"}),
    Capture("planner_recipe_tags", ALL, RecipeChanged, {"recipe_id": "{row}.recipe_id"}),
    Capture("planner_tag", (UPDATE, DELETE), TagChanged, {"tag_id": "{row}.id"}),
    Capture("planner_mealplan", ALL, MealPlanChanged, {"family_id": "{row}.family_id", "date": '{row}."date"'}),
    Capture(
        "planner_mealplanentry",
        ALL,
        MealPlanChanged,
        {"family_id": _MEAL_PLAN_OF_ENTRY.format(col="family_id"), "date": _MEAL_PLAN_OF_ENTRY.format(col='"date"')},
    ),
    Capture("planner_shoppinglist", ALL, ShoppingListChanged, {"user_id": "{row}.owner_id"}),
    Capture(
        "planner_shoppinglistitem",
        ALL,
        ShoppingListItemChanged,
        {"user_id": _OWNER_OF_ITEM, "list_id": "{row}.shopping_list_id", "rank": _RANK_OF_ITEMS_LIST},
    ),
    Capture("planner_userpreferences", ALL, PreferencesChanged, {"user_id": "{row}.user_id"}),
    Capture(
        "planner_familymembership",
        ALL,
        FamilyMembershipChanged,
        {"family_id": "{row}.family_id", "user_id": "{row}.user_id"},
    ),
    Capture("auth_user", (UPDATE, DELETE), UserChanged, {"user_id": "{row}.id"}, update_of=_USER_COLUMNS),
)

# ---- Dependents: batched look-ups, one query (or two) per batch, never per event --------------------------------


def _ids_match(ids: list) -> tuple[str, list]:
    """`= ANY(%s)` with one array parameter on PostgreSQL, `IN (...)` elsewhere."""
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [ids]
    return f"IN ({', '.join(['%s'] * len(ids))})", ids


def _as_date(value) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value  # SQLite hands back text


# A user's lists with their 1-based place in the API's order (ShoppingList.Meta.ordering: newest start first, then
# id) and their owner's family: the page showing a list is found from its rank.
_RANKED_LISTS = (
    f'SELECT member.family_id, sl.owner_id, sl."start", sl."end", sl.id, '
    f'ROW_NUMBER() OVER (PARTITION BY sl.owner_id ORDER BY sl."start" DESC, sl.id) AS list_rank '
    f"FROM {ShoppingList._meta.db_table} sl "
    f"JOIN {FamilyMembership._meta.db_table} member ON member.user_id = sl.owner_id"
)


def _pages_showing_days(days_by_family: dict, rows) -> set[Key]:
    """The page keys of the ranked-list rows whose range holds one of their family's days."""
    found = set()
    for family_id, owner_id, start, end, _list_id, rank in rows:
        start, end = _as_date(start), _as_date(end)
        if any(start <= day <= end for day in days_by_family.get(family_id, ())):
            found.update(shopping_list_page_of_rank(owner_id, rank))
    return found


def plans_and_lists_using_recipes(events: list) -> list[Key]:
    """The meal plans using the recipes, and the pages of shopping lists whose range holds one of those plans' days
    (of the plans' families' members): one query. Plain SQL: this look-up runs for every recipe write, twice (the
    worker's pub/sub listener on publish, then its Celery task), and building it with the ORM costs more than
    running it."""
    match, params = _ids_match(sorted({e.recipe_id for e in events}))
    sql = (
        f"WITH plan AS (SELECT DISTINCT p.date AS day, p.family_id FROM {MealPlan._meta.db_table} p "
        f"JOIN {MealPlanEntry._meta.db_table} entry ON entry.meal_plan_id = p.id WHERE entry.recipe_id {match}) "
        "SELECT family_id, NULL, day, NULL, NULL, NULL FROM plan "
        f"UNION ALL SELECT * FROM ({_RANKED_LISTS} WHERE member.family_id IN (SELECT family_id FROM plan)) ranked"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    days_by_family: dict[int, set[dt.date]] = {}
    for family_id, owner_id, day, *_ in rows:
        if owner_id is None:
            days_by_family.setdefault(family_id, set()).add(_as_date(day))
    plans = [meal_plan(day, family_id) for family_id, days in days_by_family.items() for day in days]
    return plans + list(_pages_showing_days(days_by_family, [row for row in rows if row[1] is not None]))


def recipes_with_tags(events: list) -> list[Key]:
    tagged = Recipe.tags.through.objects.filter(tag_id__in={e.tag_id for e in events})
    return [recipe(recipe_id) for recipe_id in tagged.values_list("recipe_id", flat=True).distinct()]


def pages_showing_plan_days(events: list) -> list[Key]:
    """The pages of the family members' shopping lists whose range holds the changed day (one query)."""
    days_by_family: dict[int, set[dt.date]] = {}
    for event in events:
        days_by_family.setdefault(event.family_id, set()).add(dt.date.fromisoformat(event.date))
    match, params = _ids_match(sorted(days_by_family))
    with connection.cursor() as cursor:
        cursor.execute(f"{_RANKED_LISTS} WHERE member.family_id {match}", params)
        return list(_pages_showing_days(days_by_family, cursor.fetchall()))


def pages_showing_item_lists(events: list) -> list[Key]:
    """The page showing each changed item's list now (one query). The event's own rank (the primary key) was taken
    when the write ran; a list added or removed before this look-up moved it, and that write dropped every page of
    the user itself, so this look-up and the primary key between them cover the page that can hold a stale copy."""
    match, params = _ids_match(sorted({e.list_id for e in events}))
    sql = (
        "SELECT id, owner_id, list_rank FROM (SELECT sl.id, sl.owner_id, "
        'ROW_NUMBER() OVER (PARTITION BY sl.owner_id ORDER BY sl."start" DESC, sl.id) AS list_rank '
        f"FROM {ShoppingList._meta.db_table} sl WHERE sl.owner_id IN "
        f"(SELECT owner_id FROM {ShoppingList._meta.db_table} WHERE id {match})) ranked WHERE id {match}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params + params)
        rows = cursor.fetchall()
    return [key for _id, owner_id, rank in rows for key in shopping_list_page_of_rank(owner_id, rank)]


# ---- Rules: which keys each event touches ------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    # every listing that can show the recipe is bumped
    Rule(RecipeChanged, lambda e: [recipe(e.recipe_id)], (RECIPE_LIST,), plans_and_lists_using_recipes),
    Rule(RecipeDeleted, lambda e: [recipe(e.recipe_id)], (RECIPE_LIST,), plans_and_lists_using_recipes),
    Rule(TagChanged, bump=(RECIPE_LIST,), dependents=recipes_with_tags),
    Rule(
        MealPlanChanged,
        lambda e: [meal_plan(dt.date.fromisoformat(e.date), e.family_id)],
        dependents=pages_showing_plan_days,
    ),
    # A list added, removed or changed (a new start moves the lists after it): all of the user's pages, a bounded few.
    Rule(ShoppingListChanged, lambda e: shopping_list_pages(e.user_id)),
    Rule(
        ShoppingListItemChanged,
        lambda e: shopping_list_page_of_rank(e.user_id, e.rank),
        dependents=pages_showing_item_lists,
    ),
    Rule(PreferencesChanged, lambda e: [preferences(e.user_id)]),  # also re-filled at once (REFILL)
    Rule(UserChanged, lambda e: [identity(e.user_id)]),
    # The family is part of the identity and decides which meal plans the user's lists are built from.
    Rule(FamilyMembershipChanged, lambda e: [identity(e.user_id), *shopping_list_pages(e.user_id)]),
)

# ---- Re-filled right after invalidation, and kept warm --------------------------------------------------------


def hot_lists_top_n() -> int:
    return settings.HOT_LISTS_TOP_N


REFILL = (
    declare.Refill(SHOPPING_LISTS, hottest=hot_lists_top_n),  # the shopping lists among the hottest N
    declare.Refill(PREFERENCES),  # every touched preferences key
)


def active_user_pages():
    """Pages of {"user_id": id} of users who logged in within PREFERENCES_ACTIVE_DAYS, PREFERENCES_REFRESH_CHUNK
    at a time (keyset pagination: bounded memory)."""
    since = timezone.now() - timedelta(days=settings.PREFERENCES_ACTIVE_DAYS)
    users = get_user_model().objects.filter(last_login__gte=since).order_by("pk")
    size, last_id = settings.PREFERENCES_REFRESH_CHUNK, 0
    while ids := list(users.filter(pk__gt=last_id).values_list("pk", flat=True)[:size]):
        yield [{"user_id": user_id} for user_id in ids]
        if len(ids) < size:
            return
        last_id = ids[-1]


def preferences_ttl() -> int:
    """24 h minus a random jitter in [0, PREFERENCES_TTL_JITTER_SECONDS], so refreshed values do not all expire in
    the same second."""
    return max(1, PREFERENCES.ttl - random.randint(0, settings.PREFERENCES_TTL_JITTER_SECONDS))


WARMERS = (
    declare.RefreshHot("refresh_hot_lists", SHOPPING_LISTS, top_n=hot_lists_top_n),
    declare.RefreshPages("refresh_preferences", PREFERENCES, pages=active_user_pages, ttl=preferences_ttl),
)

DOMAIN = declare.Domain(families=FAMILIES, kinds=KINDS, captures=CAPTURES, rules=RULES, refill=REFILL, warmers=WARMERS)
