"""A small HTTP client for loopback benchmarks (stdlib http.client): session and CSRF cookies, a tag header
that gunicorn's access log echoes (so each request's server-side time can be matched), and client-side
timing with time.perf_counter_ns."""

import http.client
import itertools
import json
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from bench.stats import now_ns

_tags = itertools.count(1)


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes
    client_ns: int
    tag: str

    def json(self):
        return json.loads(self.body)


class Client:
    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.cookies: dict[str, str] = {}
        self._conn = None

    def use_session_of(self, other: "Client") -> "Client":
        self.cookies = dict(other.cookies)
        return self

    def _connection(self):
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        return self._conn

    def request(self, method: str, path: str, payload=None) -> Response:
        tag = f"r{next(_tags)}"
        headers = {"X-Bench-Id": tag, "Accept": "application/json"}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method not in ("GET", "HEAD", "OPTIONS") and "csrftoken" in self.cookies:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        for attempt in (1, 2):
            conn = self._connection()
            start = now_ns()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (ConnectionError, http.client.HTTPException):
                # a sync gunicorn worker closes the connection after each response: reconnect once
                self.close()
                if attempt == 2:
                    raise
                continue
            elapsed = now_ns() - start
            break
        if resp.getheader("Connection", "").lower() == "close" or resp.will_close:
            self.close()
        for value in resp.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                self.cookies[name] = morsel.value
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, elapsed, tag)

    def get(self, path):
        return self.request("GET", path)

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def login(self, username: str, password: str) -> dict:
        resp = self.request("POST", "/api/auth/login/", {"username": username, "password": password})
        if resp.status != 200:
            raise RuntimeError(f"login as {username} failed: {resp.status} {resp.body[:300]!r}")
        return resp.json()
