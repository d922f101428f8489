"""The OpenAPI document at /api/schema/ holds for the live API: Schemathesis (a third-party fuzzer) runs every
operation against a real gunicorn, logged in and with the CSRF header, and finds no server error and no response
that violates the document (status codes, content types, headers and bodies), and no invalid input accepted."""

import datetime as dt
import json
import re
import subprocess
import sys
import urllib.request
from xml.etree import ElementTree

import pytest

pytestmark = [pytest.mark.integration]

PASSWORD = "a long enough live-test password"
MAX_EXAMPLES = 25  # per operation and phase; CI time is bounded, and the seed is fixed so a failure reproduces
SEED = 15


# Auth through the document's own security schemes (so Schemathesis knows which requests it sent without them).
# Business rules that JSON Schema cannot state answer 400 to schema-valid requests: a list's end before its start
# (or longer than SHOPPING_LIST_MAX_DAYS), a plan naming recipes that do not exist, and a plan's day outside
# MEAL_PLAN_WINDOW_DAYS of today.
CONFIG = """
request-timeout = 30

[auth.openapi.session]
api_key = "{session}"

[auth.openapi.csrf]
api_key = "{csrf}"

[auth.openapi.csrf_cookie]
api_key = "{csrf}"

[[operations]]
include-path = "/api/auth/logout/"  # it would end the session the rest of the run uses
enabled = false

[[operations]]
include-operation-id = "post_shopping_lists"
checks.positive_data_acceptance.expected-statuses = ["2XX", 400, 401, 403, 404, 409, 429]

[[operations]]
include-operation-id = "put_meal_plan"
checks.positive_data_acceptance.expected-statuses = ["2XX", 400, 401, 403, 404, 409, 429]

[[operations]]
include-operation-id = "get_meal_plan"
checks.positive_data_acceptance.expected-statuses = ["2XX", 400, 401, 403, 404, 409, 429]
"""


def _world():
    """A user with a family, a recipe on the family's plan and a shopping list, so that reads find something."""
    from django.contrib.auth import get_user_model

    from planner import shopping
    from planner.models import Family, FamilyMembership, MealPlan, MealPlanEntry, Recipe, RecipeIngredient

    family = Family.objects.create(name="Fuzzers")
    user = get_user_model().objects.create_user(username="fuzz", password=PASSWORD)
    FamilyMembership.objects.create(user=user, family=family)
    recipe = Recipe.objects.create(author=user, title="Soup", servings=2)
    RecipeIngredient.objects.create(recipe=recipe, ingredient="leek", quantity=2, unit="piece")
    plan = MealPlan.objects.create(family=family, date=dt.date(2026, 3, 2))
    MealPlanEntry.objects.create(meal_plan=plan, meal="dinner", recipe=recipe, servings=2)
    shopping.create_list(user.id, family.id, dt.date(2026, 3, 1), dt.date(2026, 3, 7), "week")
    return user


@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_nothing_against_the_live_api(live_server_factory, tmp_path):
    _world()
    server = live_server_factory(workers=2)
    client = server.session("fuzz", PASSWORD)
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG.format(session=client.cookie("sessionid"), csrf=client.cookie("csrftoken")))
    report = tmp_path / "junit.xml"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{server.url}/api/schema/",
        "--url",
        server.url,
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=1200)  # its cache stays there
    output = run.stdout + run.stderr
    (tmp_path / "schemathesis.txt").write_text(output)
    assert run.returncode == 0, (
        f"Schemathesis found problems:\n{output[-20000:]}\n--- server log ---\n{server.log()[-5000:]}"
    )
    assert not re.search(r'HTTP/1\.1" 5[0-9][0-9] ', server.log()), server.log()[-5000:]
    # The run really exercised every operation (not a schema that failed to load, or operations skipped).
    suite = ElementTree.parse(report).getroot()
    tested = {case.get("name") for case in suite.iter("testcase")}
    document = json.loads(urllib.request.urlopen(f"{server.url}/api/schema/", timeout=10).read())
    expected = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    assert expected - {"POST /api/auth/logout/"} <= tested, sorted(expected - tested)
    assert suite.get("failures") == "0" and suite.get("errors") == "0"


@pytest.mark.django_db(transaction=True)
def test_the_docs_page_and_every_asset_it_loads_are_served_by_the_app(live_server_factory):
    """DEBUG off, no collectstatic, no CDN: the page's scripts and styles come from this server."""
    server = live_server_factory(workers=1)
    page = urllib.request.urlopen(f"{server.url}/api/docs/", timeout=10).read().decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets) and any(a.endswith("docs.js") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by the app"
        with urllib.request.urlopen(server.url + asset, timeout=10) as response:
            assert response.status == 200 and len(response.read()) > 0, asset
    assert 'data-schema-url="/api/schema/"' in page
