"""Personal answers are `Cache-Control: private` (issue 12 item 13): a shared cache (a CDN, a corporate proxy)
must never keep one user's recipes, plans, lists or identity and hand them to another. Every answer of the
API carries it, with `Vary: Cookie`, whether Django or api.fast_path answered it (the fast path's headers are
Django's, header by header: tests/integration/test_api_fast_path.py::test_a_fast_hit_is_private)."""

import pytest
from django.utils.cache import has_vary_header

from tests.fixtures.api import PANTRY_DAY, ApiClient

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _private(response) -> bool:
    directives = {part.strip().split("=")[0] for part in response.get("Cache-Control", "").split(",")}
    return "private" in directives


def test_every_read_and_write_answer_is_private_and_varies_on_cookie(ann_api, pantry):
    created = ann_api.post("/api/shopping-lists/", {"start": str(PANTRY_DAY), "end": str(PANTRY_DAY), "name": "week"})
    list_id = created.json()["id"]
    item = ann_api.post(f"/api/shopping-lists/{list_id}/items/", {"ingredient": "salt"})
    answers = {
        "create list": created,
        "add item": item,
        "me": ann_api.get("/api/me/"),
        "recipes (miss)": ann_api.get("/api/recipes/"),
        "recipes (hit)": ann_api.get("/api/recipes/"),
        "recipe": ann_api.get(f"/api/recipes/{pantry['soup'].id}/"),
        "meal plan": ann_api.get(f"/api/meal-plans/{PANTRY_DAY}/"),
        "lists (miss)": ann_api.get("/api/shopping-lists/"),
        "lists (hit)": ann_api.get("/api/shopping-lists/"),
        "one list": ann_api.get(f"/api/shopping-lists/{list_id}/"),
        "preferences": ann_api.get("/api/preferences/"),
        "patch preferences": ann_api.patch("/api/preferences/", {"diet": "vegan"}),
        "check item": ann_api.patch(f"/api/shopping-lists/{list_id}/items/{item.json()['id']}/", {"checked": True}),
        "not found": ann_api.get("/api/recipes/987654321/"),
        "bad input": ann_api.get("/api/recipes/?tag=Not%20a%20tag"),
    }
    assert answers["recipes (hit)"]["X-Cache"] == answers["lists (hit)"]["X-Cache"] == "HIT"
    for name, response in answers.items():
        assert response.status_code < 500, name
        assert _private(response), (name, response.get("Cache-Control"))
        assert has_vary_header(response, "Cookie"), (name, response.get("Vary"))


def test_login_logout_and_anonymous_answers_are_private(api, household):
    assert _private(api.get("/api/me/"))  # 401
    login = ApiClient(api.client).login("ann")
    assert _private(login) and has_vary_header(login, "Cookie")
    assert _private(api.post("/api/auth/logout/"))
