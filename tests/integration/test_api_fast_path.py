"""api.fast_path against real Redis and PostgreSQL, through WSGI with hand-built environs: a verified hit of a
cached GET is answered in front of Django with exactly Django's answer (status, body and every header), and
everything else reaches Django, which answers exactly as it does without the fast path and for the same Redis
round trips (the script's reply is handed to it, never run twice)."""

import contextlib
import datetime as dt
import io
import json
import re
import sys
from typing import NamedTuple

import pytest
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone

from api import fast_path, identity
from api.identity import HINT_COOKIE, PlannedRead
from eventcache.store import keys, ops, readthrough
from eventcache.store.ops import AuthenticatedRead
from planner import cache as planner_cache
from tests.fixtures.api import PANTRY_DAY as DAY
from tests.fixtures.api import PASSWORD, ApiClient

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


# --- WSGI by hand ------------------------------------------------------------------------------------------


class Answer(NamedTuple):
    status: str
    headers: list
    body: bytes

    def header(self, name):
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


class CountingDjango:
    """A fresh Django WSGI handler (its middleware read the settings as they are now) that counts its calls."""

    def __init__(self):
        self.handler = WSGIHandler()
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.handler(environ, start_response)


def _environ(path, cookies, *, method="GET", query="", host="localhost", scheme="http", **extra):
    environ = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": host, "wsgi.version": (1, 0), "wsgi.url_scheme": scheme, "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }  # fmt: skip
    if cookies:
        environ["HTTP_COOKIE"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    environ.update(extra)
    return environ


@contextlib.contextmanager
def _keeping_the_test_transaction():
    """As Django's test client does: close_old_connections would end the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _call(app, environ) -> Answer:
    """One request as a WSGI server makes it: start_response, the body, then close() (request_finished)."""
    started = {}

    def start_response(status, headers, exc_info=None):
        started.update(status=status, headers=list(headers))

    with _keeping_the_test_transaction():
        result = app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
    return Answer(started["status"], started["headers"], body)


def _comparable(answer: Answer) -> Answer:
    """What must be equal between two answers of the same request: everything but what Django makes fresh each
    time (a new CSRF secret, a cookie's expiry date)."""
    headers = []
    for name, value in answer.headers:
        if name == "Set-Cookie":
            value = re.sub(r"csrftoken=\w+", "csrftoken=<new>", value)
            value = re.sub(r"expires=[^;]+", "expires=<date>", value)
        headers.append((name, value))
    return answer._replace(headers=headers)


def _cookies(client: ApiClient) -> dict:
    return {name: morsel.value for name, morsel in client.client.cookies.items() if morsel.value}


# --- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture
def ann_list(ann_api, pantry):
    """Ann's shopping list (one line: peas); returns its id."""
    assert ann_api.post("/api/shopping-lists/", {"start": str(DAY), "end": str(DAY)}).status_code == 201
    return json.loads(ann_api.get("/api/shopping-lists/").content)["results"][0]["id"]


@pytest.fixture
def ann_paths(ann_api, pantry, ann_list):
    """Ann's cached GETs whose view serves the stored body (the fast path's): name -> (path, query string)."""
    return {
        "recipe": (f"/api/recipes/{pantry['soup'].id}/", ""),
        "recipes": ("/api/recipes/", ""),
        "recipes by tag": ("/api/recipes/", "tag=soup&page=1"),
        "shopping lists": ("/api/shopping-lists/", ""),
        "preferences": ("/api/preferences/", ""),
    }


def _warm(client, path, query=""):
    """Read until it is a hit (the first read fills it)."""
    for _ in range(2):
        response = client.client.get(path, QUERY_STRING=query)
    assert response.status_code == 200, response.content
    assert response["X-Cache"] == "HIT"
    return response.content


@pytest.fixture
def fast_hit(redis_round_trips, django_assert_num_queries):
    """fast_hit(path, cookies, query=..., **environ) -> Answer: Django alone answers the request, then the
    fast path answers it without calling Django, in one Redis round trip and no query; the answers are equal."""

    def run(path, cookies, **kw):
        django_alone = _call(WSGIHandler(), _environ(path, cookies, **kw))
        django = CountingDjango()
        redis_round_trips.clear()
        with django_assert_num_queries(0):
            fast = _call(fast_path.wrap(django), _environ(path, cookies, **kw))
        assert django.calls == 0, "Django answered: the fast path fell through"
        assert redis_round_trips == ["EVALSHA"]
        assert (fast.status, fast.header("X-Cache")) == ("200 OK", "HIT")
        assert fast == django_alone
        return fast

    return run


@pytest.fixture
def falls_through(redis_round_trips):
    """falls_through(prepare, path, **environ) -> (Answer, round trips): the state prepare() sets up (it returns the
    cookies) is answered through the fast path, then set up again and answered by Django alone. Django must have
    answered the first one too, with an equal answer, for the same Redis round trips."""

    def run(prepare, path, **kw):
        # Once unrecorded first: a Lua script's first use on this Redis costs a NOSCRIPT reply and a SCRIPT LOAD,
        # which would land on whichever side ran first.
        _call(WSGIHandler(), _environ(path, prepare(), **kw))
        results = []
        for through_fast_path in (True, False):
            cookies = prepare()
            django = CountingDjango()
            app = fast_path.wrap(django) if through_fast_path else django.handler
            redis_round_trips.clear()
            answer = _call(app, _environ(path, cookies, **kw))
            results.append((answer, list(redis_round_trips), django.calls))
        (fast, fast_trips, calls), (alone, alone_trips, _) = results
        assert calls == 1
        assert _comparable(fast) == _comparable(alone)
        assert fast_trips == alone_trips
        return fast, fast_trips

    return run


@pytest.fixture
def fresh_login(api, household, pantry):
    """fresh_login(username="ann", warm=(paths)) -> an ApiClient logged in with a new session, those paths (and
    the identity) cached. For requests that end their session."""

    def login(username="ann", warm=()):
        client = ApiClient()
        client.login(username)
        for path in warm:
            _warm(client, path)
        return client

    return login


# --- verified hits: answered before Django, exactly as Django answers them ------------------------------------


def test_a_verified_hit_of_every_cached_get_is_djangos_answer_without_django(ann_api, ann_paths, fast_hit):
    cookies = _cookies(ann_api)
    assert {"sessionid", "csrftoken", HINT_COOKIE} <= cookies.keys()
    served = set()
    for name, (path, query) in ann_paths.items():
        body = _warm(ann_api, path, query)
        answer = fast_hit(path, cookies, query=query)
        assert answer.body == body, name
        served.add(answer.body)
    assert len(served) == 5  # five different values, each served for its own request


def test_the_query_string_picks_the_value_per_request(ann_api, household, make_recipe, fast_hit):
    for index in range(23):
        make_recipe(household["ann"], f"Stew {index}", tags=["stew"])
    cookies = _cookies(ann_api)
    bodies = {}
    for query in ("tag=stew&page=1", "tag=stew&page=2", "page=1", "tag=stew"):
        _warm(ann_api, "/api/recipes/", query)
        bodies[query] = fast_hit("/api/recipes/", cookies, query=query).body
    assert [r["title"] for r in json.loads(bodies["tag=stew&page=2"])["results"]] == ["Stew 20", "Stew 21", "Stew 22"]
    assert bodies["tag=stew"] == bodies["tag=stew&page=1"] != bodies["page=1"]


def test_each_page_of_shopping_lists_is_its_own_fast_hit(ann_api, household, settings, fast_hit, falls_through):
    settings.SHOPPING_LISTS_PAGE_SIZE = 1
    for offset in range(2):
        day = str(DAY + dt.timedelta(days=offset))
        assert ann_api.post("/api/shopping-lists/", {"start": day, "end": day}).status_code == 201
    cookies = _cookies(ann_api)
    bodies = {}
    for query in ("page=1", "page=2", ""):
        _warm(ann_api, "/api/shopping-lists/", query)
        bodies[query] = json.loads(fast_hit("/api/shopping-lists/", cookies, query=query).body)
    assert bodies["page=1"] == bodies[""] != bodies["page=2"]
    assert [sl["start"] for sl in bodies["page=2"]["results"]] == [str(DAY)]  # newest first: page 2 is the older one
    # A page past the last one and one past what the cap allows: Django answers (404), after the same round trips.
    for query in ("page=3", "page=51"):
        answer, _ = falls_through(lambda: cookies, "/api/shopping-lists/", query=query)
        assert answer.status.startswith("404")


@pytest.mark.parametrize(
    "changed, scheme, forwarded",
    [
        (
            {"SECURE_HSTS_SECONDS": 3600, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": True},
            "https",
            None,
        ),
        ({"SECURE_HSTS_SECONDS": 3600}, "http", None),  # no HSTS on a plain-http request
        ({"SECURE_SSL_REDIRECT": True, "SECURE_HSTS_SECONDS": 60}, "http", "https"),  # secure behind the proxy
        ({"X_FRAME_OPTIONS": "sameorigin"}, "http", None),
        (
            {"SECURE_REFERRER_POLICY": "no-referrer, strict-origin", "SECURE_CROSS_ORIGIN_OPENER_POLICY": None},
            "http",
            None,
        ),
        ({"SECURE_CONTENT_TYPE_NOSNIFF": False, "SECURE_REFERRER_POLICY": None}, "https", None),
    ],
)
def test_the_headers_follow_the_security_settings(ann_api, ann_paths, fast_hit, settings, changed, scheme, forwarded):
    for name, value in changed.items():
        setattr(settings, name, value)
    path = ann_paths["shopping lists"][0]
    _warm(ann_api, path)
    extra = {"HTTP_X_FORWARDED_PROTO": forwarded} if forwarded else {}
    answer = fast_hit(path, _cookies(ann_api), scheme=scheme, **extra)
    assert (answer.header("Strict-Transport-Security") is not None) == (
        bool(changed.get("SECURE_HSTS_SECONDS")) and "https" in (scheme, forwarded)
    )


def test_the_served_application_is_the_fast_path_and_api_fast_path_0_turns_it_off(ann_api, ann_paths, settings):
    from config.wsgi import application

    started = []

    def count(**kwargs):
        started.append(1)

    path = ann_paths["preferences"][0]
    body = _warm(ann_api, path)
    request_started.connect(count)
    try:
        on = _call(application, _environ(path, _cookies(ann_api)))
        assert (on.body, started) == (body, [])  # no request_started: Django never saw it
        settings.API_FAST_PATH = False
        off = _call(application, _environ(path, _cookies(ann_api)))
        assert (off, started) == (on, [1])
    finally:
        request_started.disconnect(count)


# --- everything else: Django answers, as without the fast path, for the same round trips --------------------


def test_a_value_miss_is_djangos_in_one_script_run_then_the_next_read_is_a_fast_hit(
    ann_api, ann_paths, falls_through, fast_hit
):
    path = ann_paths["recipe"][0]
    assert ann_api.get("/api/me/").status_code == 200  # the identity is cached

    def value_missing():
        cache.delete(planner_cache.recipe(int(path.split("/")[3])).name)
        return _cookies(ann_api)

    answer, trips = falls_through(value_missing, path)
    assert (answer.status, answer.header("X-Cache")) == ("200 OK", "MISS")
    assert trips == ["EVALSHA", "HINCRBY", "EVALSHA"]  # the script (lease taken); the computation counter; the fill
    fast_hit(path, _cookies(ann_api))


def test_an_identity_miss_is_djangos_in_one_script_run(ann_api, ann_paths, household, falls_through):
    path = ann_paths["shopping lists"][0]
    _warm(ann_api, path)

    def identity_missing():
        cache.delete(planner_cache.identity(household["ann"].id).name)
        return _cookies(ann_api)

    answer, trips = falls_through(identity_missing, path)
    assert (answer.status, answer.header("X-Cache")) == ("200 OK", "HIT")
    assert trips == ["EVALSHA", "HINCRBY", "EVALSHA", "EVALSHA"]  # script; counter; identity's fill; the value


def test_a_hint_naming_another_user_never_serves_their_value(
    ann_api, bob_api, ann_paths, household, falls_through, redis_conn
):
    assert bob_api.post("/api/shopping-lists/", {"start": str(DAY), "end": str(DAY)}).status_code == 201
    assert bob_api.patch("/api/preferences/", {"diet": "vegan"}).status_code == 200
    for path in ("/api/shopping-lists/", "/api/preferences/"):
        _warm(bob_api, path)
        own = _warm(ann_api, path)
        cookies = {**_cookies(ann_api), HINT_COOKIE: str(household["bob"].id)}
        answer, trips = falls_through(lambda: cookies, path)
        assert (answer.status, answer.body) == ("200 OK", own)
        assert trips == ["EVALSHA", "EVALSHA", "EVALSHA"]  # the script read only the session
    assert b"beef" not in answer.body and b"vegan" not in answer.body
    for key in (planner_cache.shopping_lists(household["bob"].id), planner_cache.preferences(household["bob"].id)):
        assert not redis_conn.exists(ops.full_name(keys.lease(key)))


@pytest.mark.parametrize("hint", [None, "", "abc", "0", "-3", "1e3", "9" * 40])
def test_a_missing_or_garbage_hint_is_djangos(ann_api, ann_paths, falls_through, hint):
    path = ann_paths["recipe"][0]
    _warm(ann_api, path)
    cookies = {name: value for name, value in _cookies(ann_api).items() if name != HINT_COOKIE}
    if hint is not None:
        cookies[HINT_COOKIE] = hint
    answer, trips = falls_through(lambda: cookies, path)
    assert answer.header("X-Cache") == "HIT"
    assert trips == ["GET", "EVALSHA", "EVALSHA"]  # the separate reads: session, identity, value


def test_a_logged_out_or_expired_session_is_djangos_401(fresh_login, ann_paths, falls_through, redis_conn):
    path = ann_paths["recipe"][0]

    def logged_out():
        client = fresh_login(warm=[path])
        cookies = _cookies(client)
        assert client.post("/api/auth/logout/").status_code == 204
        return cookies

    def expired():
        client = fresh_login(warm=[path])
        session_key = client.client.cookies["sessionid"].value
        redis_conn.delete(ops.full_name(keys.session(client.client.session)))  # its cache entry expired
        Session.objects.filter(session_key=session_key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
        return _cookies(client)

    for prepare in (logged_out, expired):
        answer, _ = falls_through(prepare, path)
        assert answer.status == "401 Unauthorized"
        assert json.loads(answer.body)["error"] == "not_authenticated"


def test_an_inactive_user_or_a_changed_password_is_djangos_401(fresh_login, ann_paths, household, falls_through):
    path = ann_paths["shopping lists"][0]
    ann = household["ann"]

    def deactivated():
        ann.is_active = True
        ann.save()
        cookies = _cookies(fresh_login(warm=[path]))
        ann.is_active = False
        ann.save()
        cache.delete(planner_cache.identity(ann.id).name)  # what the event pipeline does after a users-row change
        return cookies

    def new_password():
        ann.is_active = True
        ann.set_password(PASSWORD)
        ann.save()
        cookies = _cookies(fresh_login(warm=[path]))
        ann.set_password("a brand new password 123")
        ann.save()
        cache.delete(planner_cache.identity(ann.id).name)
        return cookies

    for prepare in (deactivated, new_password):
        answer, trips = falls_through(prepare, path)
        assert answer.status == "401 Unauthorized"
        assert trips[0] == "EVALSHA"


def test_a_session_hash_that_does_not_match_is_djangos_401(fresh_login, ann_paths, falls_through):
    path = ann_paths["recipe"][0]

    def forged_hash():
        client = fresh_login(warm=[path])
        session = client.client.session
        session[HASH_SESSION_KEY] = "0" * 64
        session.save()
        return _cookies(client)

    answer, _ = falls_through(forged_hash, path)
    assert answer.status == "401 Unauthorized"


def test_a_session_whose_backend_is_no_longer_configured_is_djangos_401(
    fresh_login, ann_paths, falls_through, settings
):
    """The script's own conditions let the value be read (a hit); only the checks in Python refuse it."""
    path = ann_paths["recipe"][0]
    configured = settings.AUTHENTICATION_BACKENDS

    def backend_removed():
        settings.AUTHENTICATION_BACKENDS = configured
        cookies = _cookies(fresh_login(warm=[path]))
        settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.AllowAllUsersModelBackend"]
        return cookies

    answer, trips = falls_through(backend_removed, path)
    assert (answer.status, trips[0]) == ("401 Unauthorized", "EVALSHA")


def test_a_session_with_a_custom_expiry_is_left_to_django(ann_api, ann_paths, falls_through):
    path = ann_paths["recipe"][0]
    _warm(ann_api, path)
    session = ann_api.client.session
    session.set_expiry(3600)
    session.save()
    answer, trips = falls_through(lambda: _cookies(ann_api), path)
    assert (answer.status, answer.header("X-Cache"), trips) == ("200 OK", "HIT", ["EVALSHA"])


def test_one_shopping_list_is_cut_out_of_the_cached_lists_by_django(ann_api, ann_list, falls_through):
    path = f"/api/shopping-lists/{ann_list}/"
    _warm(ann_api, path)
    answer, trips = falls_through(lambda: _cookies(ann_api), path)
    assert (answer.status, answer.header("X-Cache"), trips) == ("200 OK", "HIT", ["EVALSHA"])
    assert json.loads(answer.body)["id"] == ann_list


@pytest.mark.parametrize(
    "path, method, query, status",
    [
        ("/api/shopping-lists/", "HEAD", "", "405 Method Not Allowed"),
        ("/api/shopping-lists/", "POST", "", "403 Forbidden"),  # no CSRF token
        ("/api/preferences/", "PATCH", "", "403 Forbidden"),
        ("/api/recipes/not-an-id/", "GET", "", "400 Bad Request"),
        ("/api/recipes/", "GET", "page=0", "400 Bad Request"),
        ("/api/recipes/", "GET", "tag=No+Spaces", "400 Bad Request"),
        ("/api/recipes/", "GET", "page=9", "404 Not Found"),
        ("/api/nothing/", "GET", "", "404 Not Found"),
        ("/nowhere", "GET", "", "404 Not Found"),
        ("/api/me/", "GET", "", "200 OK"),  # no plan
        (f"/api/meal-plans/{DAY}/", "GET", "", "200 OK"),  # its plan needs the family first
    ],
)
def test_other_requests_are_djangos(ann_api, ann_paths, falls_through, path, method, query, status):
    ann_api.get(path)
    answer, _ = falls_through(lambda: _cookies(ann_api), path, method=method, query=query)
    assert answer.status == status


def test_a_host_not_allowed_is_djangos_400_before_any_read(ann_api, ann_paths, falls_through):
    path = ann_paths["shopping lists"][0]
    _warm(ann_api, path)
    answer, trips = falls_through(lambda: _cookies(ann_api), path, host="evil.example")
    assert (answer.status, json.loads(answer.body)["error"], trips) == ("400 Bad Request", "bad_request", [])


def test_an_ssl_redirect_is_djangos(ann_api, ann_paths, falls_through, settings):
    settings.SECURE_SSL_REDIRECT = True
    path = ann_paths["preferences"][0]
    _warm(ann_api, path, "")
    answer, trips = falls_through(lambda: _cookies(ann_api), path)
    assert (answer.status, answer.header("Location"), trips) == (
        "301 Moved Permanently",
        f"https://localhost{path}",
        [],
    )


def test_a_malformed_csrf_cookie_is_djangos_which_sets_a_new_one(ann_api, ann_paths, falls_through):
    path = ann_paths["preferences"][0]
    _warm(ann_api, path)
    answer, _ = falls_through(lambda: {**_cookies(ann_api), "csrftoken": "not-a-token"}, path)
    assert answer.header("X-Cache") == "HIT" and "csrftoken=" in answer.header("Set-Cookie")


@pytest.mark.parametrize(
    "changed",
    [
        {"API_FAST_PATH": False},
        {"CACHE_READS_ENABLED": False},
        {"SESSION_SAVE_EVERY_REQUEST": True},
        {"SESSION_ENGINE": "django.contrib.sessions.backends.db"},
        {"CSRF_USE_SESSIONS": True},
        {"PREPEND_WWW": True},
        {"DISALLOWED_USER_AGENTS": [re.compile("curl")]},
        {"MIDDLEWARE": [*fast_path.MIDDLEWARE, "django.middleware.http.ConditionalGetMiddleware"]},
    ],
    ids=lambda changed: next(iter(changed)),
)
def test_settings_that_would_make_the_shortcut_inexact_turn_it_off(
    ann_api, ann_paths, falls_through, settings, changed
):
    path = ann_paths["shopping lists"][0]
    _warm(ann_api, path)
    for name, value in changed.items():
        setattr(settings, name, value)
    answer, _ = falls_through(lambda: _cookies(ann_api), path, HTTP_USER_AGENT="curl/8")
    assert answer.status in ("200 OK", "301 Moved Permanently", "403 Forbidden")


def test_redis_down_is_djangos_degraded_answer(ann_api, ann_paths, falls_through, monkeypatch, request):
    path = ann_paths["recipe"][0]
    _warm(ann_api, path)
    request.getfixturevalue("redis_down")  # the store's connection fails from now on (sessions still load)

    def healthy_process():
        monkeypatch.setattr(readthrough, "_health", readthrough._Health())
        return _cookies(ann_api)

    answer, _ = falls_through(healthy_process, path)
    assert (answer.status, answer.header("X-Cache")) == ("200 OK", "MISS")
    assert json.loads(answer.body)["title"] == "Pea soup"
    assert readthrough.is_degraded()
    answer, trips = falls_through(lambda: _cookies(ann_api), path)  # degraded: no read is tried at all
    assert answer.header("X-Cache") == "MISS" and "EVALSHA" not in trips


def test_a_degraded_process_leaves_the_probe_and_the_recovery_to_django(ann_api, ann_paths, monkeypatch):
    path = ann_paths["preferences"][0]
    body = _warm(ann_api, path)
    health = readthrough._Health()
    health.degraded = True  # Redis failed a while ago (the probe is due) and answers again
    monkeypatch.setattr(readthrough, "_health", health)
    django = CountingDjango()
    app = fast_path.wrap(django)
    first = _call(app, _environ(path, _cookies(ann_api)))
    assert (first.body, django.calls, readthrough.is_degraded()) == (body, 1, False)  # Django probed and recovered
    assert _call(app, _environ(path, _cookies(ann_api))) == first
    assert django.calls == 1


# --- failures inside the fast path, and leases nobody takes ----------------------------------------------------


def test_an_exception_before_the_read_falls_through_to_django(ann_api, ann_paths, monkeypatch, redis_round_trips):
    path = ann_paths["recipe"][0]
    _warm(ann_api, path)
    django_alone = _call(WSGIHandler(), _environ(path, _cookies(ann_api)))
    real, calls = identity.read_together, []

    def fails_the_first_time(*args, **kwargs):  # the fast path's call; Django's own then works
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in the fast path")
        return real(*args, **kwargs)

    monkeypatch.setattr(identity, "read_together", fails_the_first_time)
    django = CountingDjango()
    redis_round_trips.clear()
    answer = _call(fast_path.wrap(django), _environ(path, _cookies(ann_api)))
    assert (answer, django.calls, len(calls)) == (django_alone, 1, 2)
    assert (answer.status, answer.header("X-Cache"), redis_round_trips) == ("200 OK", "HIT", ["EVALSHA"])


def test_an_exception_after_the_read_hands_the_read_to_django(ann_api, ann_paths, monkeypatch, redis_round_trips):
    path = ann_paths["recipe"][0]
    body = _warm(ann_api, path)

    def broken(*args):
        raise KeyError("a bug in the fast path")

    monkeypatch.setattr(identity, "verify_fetched", broken)
    django = CountingDjango()
    redis_round_trips.clear()
    answer = _call(fast_path.wrap(django), _environ(path, _cookies(ann_api)))
    assert (answer.status, answer.header("X-Cache"), answer.body, django.calls) == ("200 OK", "HIT", body, 1)
    assert redis_round_trips == ["EVALSHA"]  # Django used the fast path's read


@pytest.mark.parametrize("missing", ["value", "identity"])
def test_a_lease_in_a_read_django_did_not_take_is_given_back(ann_api, ann_paths, household, redis_conn, missing):
    path = ann_paths["preferences"][0]
    _warm(ann_api, path)
    key = (
        planner_cache.preferences(household["ann"].id)
        if missing == "value"
        else planner_cache.identity(household["ann"].id)
    )
    cache.delete(key.name)

    def answers_without_identity(environ, start_response):  # as when a middleware answers before the view
        assert environ[identity.PREFETCHED_ENVIRON_KEY].reply is not None
        start_response("204 No Content", [])
        return []

    answer = _call(fast_path.wrap(answers_without_identity), _environ(path, _cookies(ann_api)))
    assert answer.status == "204 No Content"
    assert not redis_conn.exists(ops.full_name(keys.lease(key)))


def test_a_prefetched_read_for_another_key_is_ignored_and_released(
    ann_api, ann_paths, household, redis_conn, redis_round_trips
):
    path = ann_paths["preferences"][0]
    body = _warm(ann_api, path)
    other = planner_cache.recipe(987654)
    lease = ops.read_or_lease(other).lease
    assert lease is not None and redis_conn.exists(ops.full_name(keys.lease(other)))
    reply = AuthenticatedRead(session=None, identity=None, value=ops.ReadResult(lease=lease))
    prefetched = identity.Prefetched(
        keys.session(ann_api.client.session), household["ann"].id, PlannedRead(other), reply
    )
    redis_round_trips.clear()
    answer = _call(WSGIHandler(), _environ(path, _cookies(ann_api), **{identity.PREFETCHED_ENVIRON_KEY: prefetched}))
    assert (answer.status, answer.header("X-Cache"), answer.body) == ("200 OK", "HIT", body)
    assert redis_round_trips == ["EVALSHA", "EVALSHA"]  # the lease given back; Django's own script
    assert not redis_conn.exists(ops.full_name(keys.lease(other)))


def test_a_fast_hit_is_private(ann_api, ann_paths, fast_hit):
    """A personal value answered in front of Django is `Cache-Control: private, Vary: Cookie`, as Django's answer is."""
    path = ann_paths["shopping lists"][0]
    _warm(ann_api, path)
    answer = fast_hit(path, _cookies(ann_api))
    assert answer.header("Cache-Control") == "private"
    assert answer.header("Vary") == "Cookie"
