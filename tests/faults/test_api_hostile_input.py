"""Hostile and broken input to the API: every case gets a clear JSON answer (docs/API-ERRORS.md lists them),
and a Hypothesis property over random bodies, path parts and query strings finds no 5xx."""

import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.api import ApiClient

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db]

R = "/api/recipes/"
OK_RECIPE = {"title": "x"}


def recipe_with(**fields):
    return json.dumps({"title": "x", **fields})


def line(**fields):
    return recipe_with(ingredients=[{"ingredient": "flour", "quantity": 1, "unit": "g", **fields}])


# (case, method, path, raw body or None, expected status, expected error code). Mirrored in docs/API-ERRORS.md.
CASES = [
    ("empty body", "POST", R, "", 400, "malformed_json"),
    ("truncated JSON", "POST", R, "{", 400, "malformed_json"),
    ("JSON that is not an object", "POST", R, "[1, 2]", 400, "malformed_json"),
    ("bytes that are not UTF-8", "POST", R, b"\xff\xfe\xfa", 400, "malformed_json"),
    ("nesting deeper than the parser's recursion limit", "POST", R, "[" * 60_000, 400, "malformed_json"),
    ("missing required field", "POST", R, "{}", 400, "missing_field"),
    ("number where a string goes", "POST", R, '{"title": 5}', 400, "wrong_type"),
    ("integer sent as a string", "POST", R, recipe_with(servings="4"), 400, "wrong_type"),
    ("boolean where an integer goes", "POST", R, recipe_with(servings=True), 400, "wrong_type"),
    ("float where an integer goes", "POST", R, recipe_with(servings=2.5), 400, "wrong_type"),
    ("null for a field", "POST", R, recipe_with(description=None), 400, "wrong_type"),
    ("integer out of range", "POST", R, recipe_with(servings=1000), 400, "invalid"),
    ("huge integer", "POST", R, '{"title": "x", "servings": 1' + "0" * 5000 + "}", 400, "malformed_json"),
    ("blank title", "POST", R, recipe_with(title="   "), 400, "invalid"),
    ("NUL character in a string", "POST", R, recipe_with(title="a\x00b"), 400, "invalid"),
    ("lone UTF-16 surrogate", "POST", R, '{"title": "\\ud800"}', 400, "invalid"),
    ("too long a string", "POST", R, recipe_with(title="x" * 201), 400, "invalid"),
    ("NaN quantity", "POST", R, line(quantity=float("nan")), 400, "invalid"),
    (
        "infinite quantity",
        "POST",
        R,
        '{"title":"x","ingredients":[{"ingredient":"a","quantity":1e400,"unit":"g"}]}',
        400,
        "invalid",
    ),
    ("negative quantity", "POST", R, line(quantity=-1), 400, "invalid"),
    ("quantity that rounds past the column", "POST", R, line(quantity=9999999.9996), 400, "invalid"),
    ("unknown unit", "POST", R, line(unit="bushel"), 400, "invalid"),
    (
        "ingredient line missing a field",
        "POST",
        R,
        recipe_with(ingredients=[{"ingredient": "a"}]),
        400,
        "missing_field",
    ),
    ("ingredient line that is not an object", "POST", R, recipe_with(ingredients=["flour"]), 400, "wrong_type"),
    (
        "too many ingredient lines",
        "POST",
        R,
        recipe_with(ingredients=[{"ingredient": "a", "quantity": 1, "unit": "g"}] * 101),
        400,
        "invalid",
    ),
    ("tag with a space", "POST", R, recipe_with(tags=["two words"]), 400, "invalid"),
    ("tag with a newline", "POST", R, recipe_with(tags=["a\nb"]), 400, "invalid"),
    (
        "body over DATA_UPLOAD_MAX_MEMORY_SIZE (JSON)",
        "POST",
        R,
        recipe_with(description="x" * 70_000),
        413,
        "too_large",
    ),
    ("multipart form instead of JSON", "POST", R, "MULTIPART", 400, "malformed_json"),
    ("impossible date", "GET", "/api/meal-plans/2026-02-30/", None, 400, "invalid_date"),
    ("month 13", "GET", "/api/meal-plans/2026-13-01/", None, 400, "invalid_date"),
    ("not a date", "GET", "/api/meal-plans/tomorrow/", None, 400, "invalid_date"),
    ("date with a trailing newline", "GET", "/api/meal-plans/2026-01-01%0A/", None, 400, "invalid_date"),
    ("date with non-ASCII digits", "GET", "/api/meal-plans/%D9%A2%D9%A0%D9%A2%D9%A6-01-01/", None, 400, "invalid_date"),
    (
        "impossible date in a body",
        "POST",
        "/api/shopping-lists/",
        '{"start": "2026-02-29", "end": "2026-03-01"}',
        400,
        "invalid_date",
    ),
    (
        "end before start",
        "POST",
        "/api/shopping-lists/",
        '{"start": "2026-03-05", "end": "2026-03-01"}',
        400,
        "invalid_date",
    ),
    (
        "range over a year",
        "POST",
        "/api/shopping-lists/",
        '{"start": "2026-01-01", "end": "2027-06-01"}',
        400,
        "invalid",
    ),
    ("id that is not an integer", "GET", "/api/recipes/abc/", None, 400, "invalid_id"),
    ("negative id", "GET", "/api/recipes/-1/", None, 400, "invalid_id"),
    ("zero id", "GET", "/api/recipes/0/", None, 400, "invalid_id"),
    ("decimal id", "GET", "/api/recipes/1.5/", None, 400, "invalid_id"),
    ("id with spaces", "GET", "/api/recipes/%201%20/", None, 400, "invalid_id"),
    ("id beyond bigint", "GET", "/api/recipes/99999999999999999999/", None, 400, "invalid_id"),
    ("non-integer item id", "PATCH", "/api/shopping-lists/1/items/x/", '{"checked": true}', 400, "invalid_id"),
    (
        "checked that is not a boolean",
        "PATCH",
        "/api/shopping-lists/1/items/1/",
        '{"checked": "yes"}',
        400,
        "wrong_type",
    ),
    ("missing end date", "POST", "/api/shopping-lists/", '{"start": "2026-01-01"}', 400, "missing_field"),
    ("tag with a space (query)", "GET", R + "?tag=two%20words", None, 400, "invalid"),
    ("tag with a newline (query)", "GET", R + "?tag=a%0Ab", None, 400, "invalid"),
    ("upper-case tag (query)", "GET", R + "?tag=Soup", None, 400, "invalid"),
    ("page that is not a number", "GET", R + "?page=abc", None, 400, "invalid"),
    ("page zero", "GET", R + "?page=0", None, 400, "invalid"),
    ("page past the end", "GET", R + "?page=99", None, 404, "not_found"),
    ("family_id that is not an integer", "GET", "/api/meal-plans/2026-01-01/?family_id=x", None, 400, "invalid_id"),
    ("unknown choice", "PATCH", "/api/preferences/", '{"diet": "carnivore"}', 400, "invalid"),
    ("string where a list goes", "PUT", "/api/meal-plans/2026-01-01/", '{"entries": "all"}', 400, "wrong_type"),
    (
        "unknown recipe in a plan",
        "PUT",
        "/api/meal-plans/2026-01-01/",
        '{"entries": [{"meal": "lunch", "recipe_id": 99999999}]}',
        400,
        "unknown_recipe",
    ),
    ("method not allowed", "DELETE", "/api/preferences/", None, 405, "method_not_allowed"),
    ("unknown /api/ path", "GET", "/api/nothing-here/", None, 404, "not_found"),
    ("path without its trailing slash", "GET", "/api/me", None, 404, "not_found"),
    ("unknown recipe", "GET", "/api/recipes/987654321/", None, 404, "not_found"),
]


@pytest.mark.parametrize("case, method, path, raw, status, code", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_gets_a_clear_json_answer(ann_api, case, method, path, raw, status, code):
    if raw == "MULTIPART":
        response = ann_api.client.post(path, {"title": "x"}, HTTP_X_CSRFTOKEN=ann_api.client.cookies["csrftoken"].value)
    elif raw is None and method == "GET":
        response = ann_api.client.get(path)
    else:
        response = ann_api.send(method, path, raw=raw or b"")
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["error"] == code
    if status == 405:
        assert response["Allow"]


def test_an_oversized_form_body_read_by_the_csrf_check_is_413(ann_api):
    response = ann_api.client.post(
        "/api/recipes/",
        "title=" + "x" * 70_000,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_CSRFTOKEN=ann_api.client.cookies["csrftoken"].value,
    )
    assert response.status_code == 413
    assert json.loads(response.content)["error"] == "too_large"


def test_missing_csrf_token_is_403_json(ann_api):
    response = ann_api.post("/api/recipes/", OK_RECIPE, csrf=False)
    assert response.status_code == 403
    assert json.loads(response.content)["error"] == "csrf_failed"


def test_a_wrong_csrf_token_is_403_json(ann_api):
    response = ann_api.client.post(
        "/api/recipes/", json.dumps(OK_RECIPE), content_type="application/json", HTTP_X_CSRFTOKEN="x" * 32
    )
    assert response.status_code == 403


def test_anonymous_reads_are_401_never_a_redirect(api):
    for path in (
        "/api/recipes/",
        "/api/recipes/1/",
        "/api/meal-plans/2026-01-01/",
        "/api/shopping-lists/",
        "/api/preferences/",
    ):
        response = api.get(path)
        assert response.status_code == 401
        assert json.loads(response.content)["error"] == "not_authenticated"


# --- property: no input produces a 5xx -----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELDS = [
    "title",
    "description",
    "servings",
    "prep_minutes",
    "ingredients",
    "tags",
    "entries",
    "start",
    "end",
    "name",
    "checked",
    "diet",
    "default_servings",
    "unit_system",
    "disliked_ingredients",
    "username",
    "password",
    "ingredient",
    "quantity",
    "unit",
    "meal",
    "recipe_id",
]
# Objects with the API's own field names reach far deeper into validation than arbitrary keys would.
api_objects = st.dictionaries(
    st.sampled_from(FIELDS),
    json_values | st.lists(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4), max_size=3),
    max_size=6,
)
bodies = st.one_of(
    api_objects.map(json.dumps),
    json_values.map(json.dumps),
    st.binary(max_size=200),
)
path_parts = st.one_of(st.text(max_size=20), st.integers(-(2**70), 2**70).map(str), st.dates().map(str), st.just("1"))
TEMPLATES = [
    ("POST", "/api/auth/login/"),
    ("POST", "/api/auth/logout/"),
    ("GET", "/api/me/"),
    ("GET", "/api/recipes/"),
    ("POST", "/api/recipes/"),
    ("GET", "/api/recipes/{}/"),
    ("PUT", "/api/recipes/{}/"),
    ("PATCH", "/api/recipes/{}/"),
    ("DELETE", "/api/recipes/{}/"),
    ("GET", "/api/meal-plans/{}/"),
    ("PUT", "/api/meal-plans/{}/"),
    ("GET", "/api/shopping-lists/"),
    ("POST", "/api/shopping-lists/"),
    ("GET", "/api/shopping-lists/{}/"),
    ("POST", "/api/shopping-lists/{}/regenerate/"),
    ("POST", "/api/shopping-lists/{}/items/"),
    ("PATCH", "/api/shopping-lists/{}/items/{}/"),
    ("GET", "/api/preferences/"),
    ("PATCH", "/api/preferences/"),
    ("OPTIONS", "/api/recipes/"),
    ("GET", "/api/{}/"),
]
queries = st.dictionaries(st.sampled_from(["page", "tag", "family_id", "x"]), st.text(max_size=15), max_size=3)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    template=st.sampled_from(TEMPLATES), parts=st.lists(path_parts, min_size=2, max_size=2), query=queries, body=bodies
)
def test_no_input_produces_a_server_error(ann_api, make_recipe, household, template, parts, query, body):
    method, pattern = template
    path = pattern.format(*(quote(p, safe="") for p in parts))
    if query:
        path += "?" + urlencode(query)
    response = ann_api.send(method, path, raw=body)
    assert response.status_code < 500, (method, path, body, response.content)
    if response.status_code != 204:
        assert response["Content-Type"] == "application/json", (method, path, response.content)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, address=st.ip_addresses().map(str))
def test_no_login_attempt_produces_a_server_error(api, household, body, address):
    response = ApiClient(api.client).post("/api/auth/login/", raw=body, csrf=False, REMOTE_ADDR=address)
    assert response.status_code in {200, 400, 401, 415, 429}, response.content  # 415: an empty body has no Content-Type
