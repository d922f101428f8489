"""The staff dashboard in a real headless Chromium (Playwright, Debian's chromium): an anonymous visitor is sent to
log in; staff see the page, make a write through the API, and watch its event arrive on the live stream (SSE from
the pub/sub channel) and the counters move (the cache's hits, the worker listener's events); a non-staff user gets
403. Everything runs for real: gunicorn, a Celery worker subprocess, Redis and PostgreSQL."""

import json
import os
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.worker]

PASSWORD = "a long enough dashboard password"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
WAIT_MS = 20_000  # an event crosses commit -> pub/sub -> SSE -> DOM, and the page polls its numbers every 2 s


def _users():
    from django.contrib.auth import get_user_model

    from planner.models import Family, FamilyMembership, Recipe

    family = Family.objects.create(name="Dashboard")
    User = get_user_model()
    staff = User.objects.create_user(username="staffer", password=PASSWORD, is_staff=True)
    cook = User.objects.create_user(username="cook", password=PASSWORD)
    for user in (staff, cook):
        FamilyMembership.objects.create(user=user, family=family)
    return Recipe.objects.create(author=staff, title="Watched soup", servings=2)


def _login(context, base_url: str, username: str) -> None:
    response = context.request.post(
        f"{base_url}/api/auth/login/",
        data=json.dumps({"username": username, "password": PASSWORD}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 200, response.text()


def _csrf(context) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")


def _number(page, selector: str) -> int:
    return int(page.locator(selector).inner_text())


@pytest.mark.django_db(transaction=True)
def test_staff_watch_a_write_arrive_live_and_others_are_kept_out(live_server_factory, start_worker_process, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    recipe = _users()  # every ORM call before Playwright starts: its sync API runs an event loop in this thread
    start_worker_process(EVENTS_DROP_ON_PUBLISH="1")
    server = live_server_factory(workers=3, OBSERVE_SSE_MAX_SECONDS="10")
    base = server.url

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            anonymous = browser.new_context()
            page = anonymous.new_page()
            page.goto(f"{base}/dashboard/")
            assert "/admin/login/" in page.url and "next=/dashboard/" in page.url

            staff = browser.new_context(viewport={"width": 1280, "height": 1000})
            _login(staff, base, "staffer")
            page = staff.new_page()
            assert page.goto(f"{base}/dashboard/").status == 200
            expect(page.locator("h1")).to_have_text("Cache dashboard")
            expect(page.locator("#stream-state")).to_have_text("open", timeout=WAIT_MS)
            hits_before = _number(page, 'tr[data-family="recipe"] .hits')
            seen_before = _number(page, "#events-seen")

            # A write through the API (CSRF header from the cookie, as a browser script sends it).
            headers = {"Content-Type": "application/json", "X-CSRFToken": _csrf(staff)}
            patched = staff.request.patch(
                f"{base}/api/recipes/{recipe.id}/", data=json.dumps({"title": "Watched stew"}), headers=headers
            )
            assert patched.status == 200, patched.text()

            event = page.locator("#stream li.event", has_text=f'"recipe_id":{recipe.id}').first
            expect(event).to_be_visible(timeout=WAIT_MS)
            assert event.get_attribute("data-kind") == "recipe.changed"
            page.wait_for_function(
                "([before]) => Number(document.getElementById('events-seen').textContent) > before"
                " && document.getElementById('unprocessed').textContent === '0'",
                arg=[seen_before],
                timeout=WAIT_MS,
            )
            # The worker has applied the write: a miss that fills the recipe's key, then a hit.
            for _ in range(2):
                assert staff.request.get(f"{base}/api/recipes/{recipe.id}/").status == 200
                assert staff.request.get(f"{base}/api/shopping-lists/").status == 200
            page.wait_for_function(
                "([before]) => Number(document.querySelector('tr[data-family=\"recipe\"] .hits').textContent) > before",
                arg=[hits_before],
                timeout=WAIT_MS,
            )
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            if os.environ.get("DASHBOARD_SCREENSHOT"):  # how docs/dashboard.png is refreshed
                shutil.copy(shot, Path(os.environ["DASHBOARD_SCREENSHOT"]))

            cook = browser.new_context()
            _login(cook, base, "cook")
            page = cook.new_page()
            assert page.goto(f"{base}/dashboard/").status == 403
            assert "staff" in page.content()
            data = cook.request.get(f"{base}/dashboard/data/")
            assert data.status == 403 and data.json()["error"] == "forbidden"
            assert cook.request.get(f"{base}/dashboard/events/").status == 403
        finally:
            browser.close()
