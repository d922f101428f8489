"""A session that ended while Redis was down stays ended after Redis comes back (issue 12, item 1).

Against a redis-server this test starts and stops (append-only file, so what it held before the stop is there again
after the start, as after a production restart), the web app in a subprocess (runserver: config.wsgi, the fast
path included) and the database. A user logs in and reads something cached; someone keeps a copy of the cookies
(a stolen or shared browser's). Redis stops; the session is ended, four ways: logout over HTTP, a login of another
user on the same session (Django's login() flushes it), a password change and a deactivation (both in another
process, as the admin or a management command would). Redis starts again on the same data. The copied cookies
must then get 401 from /api/me/ and from a cached GET, whose hit is answered in front of Django.

Ending a session may refuse while Redis is down (the old session then goes on, and the refusal is visible: a 503,
an exception): it is tried again once Redis answers. What it may not do is report success and leave a session
that comes back.
"""

import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model

from planner.models import Family, FamilyMembership, Recipe
from tests.fixtures.events import REPO_DIR

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-session-end-123456"


@pytest.fixture
def cook():
    user = get_user_model().objects.create_user("cook", password=PASSWORD)
    get_user_model().objects.create_user("other", password=PASSWORD)
    family = Family.objects.create(name="Cooks")
    FamilyMembership.objects.create(family=family, user=user)
    return user, Recipe.objects.create(author=user, title="Pea soup")


def _in_django(web, code: str) -> bool:
    """Run `code` in a new Django process with the web app's environment; True when it succeeded."""
    done = subprocess.run(
        [sys.executable, "backend/manage.py", "shell", "-c", code],
        cwd=REPO_DIR,
        env=web.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode == 0


def _logout(web, client, session_key) -> bool:
    status, _, body = client.request("POST", "/api/auth/logout/")
    assert status == 204 or (status, body["error"]) == (503, "session_store_unavailable"), (status, body)
    return status == 204


def _login_of_another_user(web, client, session_key) -> bool:
    return _in_django(
        web,
        "from importlib import import_module\n"
        "from django.conf import settings\n"
        "from django.contrib.auth import get_user_model, login\n"
        "from django.test import RequestFactory\n"
        "request = RequestFactory().post('/')\n"
        f"request.session = import_module(settings.SESSION_ENGINE).SessionStore({session_key!r})\n"
        "login(request, get_user_model().objects.get(username='other'), "
        "backend='django.contrib.auth.backends.ModelBackend')\n"
        "request.session.save()\n",
    )


def _password_change(web, client, session_key) -> bool:
    return _in_django(
        web,
        "from django.contrib.auth import get_user_model\n"
        "user = get_user_model().objects.get(username='cook')\n"
        "user.set_password('a brand new password 123')\n"
        "user.save()\n",
    )


def _deactivation(web, client, session_key) -> bool:
    return _in_django(
        web,
        "from django.contrib.auth import get_user_model\n"
        "user = get_user_model().objects.get(username='cook')\n"
        "user.is_active = False\n"
        "user.save()\n",
    )


ENDINGS = {
    "logout": _logout,
    "login of another user": _login_of_another_user,
    "password change": _password_change,
    "deactivation": _deactivation,
}


@pytest.mark.parametrize("ending", ENDINGS)
def test_a_session_ended_during_a_redis_outage_stays_ended(ending, cook, redis_server, start_web_process):
    user, recipe = cook
    redis_server.start()
    web = start_web_process(REDIS_URL=redis_server.url)
    client = web.session()
    client.login(user.username, PASSWORD)
    path = f"/api/recipes/{recipe.id}/"
    client.request("GET", path)
    status, headers, _ = client.request("GET", path)
    assert (status, headers["X-Cache"]) == (200, "HIT")
    assert client.request("GET", "/api/me/")[0] == 200
    kept = web.session()  # a copy of the cookies, kept by someone else
    for cookie in client.cookies:
        kept.cookies.set_cookie(cookie)
    session_key = next(c.value for c in client.cookies if c.name == "sessionid")

    redis_server.stop()
    ended = ENDINGS[ending](web, client, session_key)
    redis_server.start()
    if not ended:  # refused while Redis was down: nothing ended (the session goes on); now it must work
        assert kept.request("GET", "/api/me/")[0] == 200
        assert ENDINGS[ending](web, client, session_key), f"{ending} failed with Redis up"

    status, _, body = kept.request("GET", "/api/me/")
    assert status == 401, f"after {ending} during the outage{'' if ended else ' (refused, then done)'}: {body}"
    status, headers, body = kept.request("GET", path)
    assert (status, headers.get("X-Cache")) == (401, None), body
