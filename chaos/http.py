"""A logged-in HTTP client for 127.0.0.1 only (stdlib http.client): session, uid_hint and CSRF cookies, one
keep-alive connection, and every request timed on the soak's clock. A refused or broken connection is status 0."""

import http.client
import json
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie

TIMEOUT = 10.0


@dataclass
class Reply:
    status: int  # 0: no HTTP answer (refused, reset, timed out)
    body: bytes
    x_cache: str
    started: float
    ended: float

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Client:
    def __init__(self, port: int, clock=time.monotonic):
        self.port, self.clock = port, clock
        self.cookies: dict[str, str] = {}
        self.conn = None
        self.credentials = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, payload=None) -> Reply:
        headers = {"Accept": "application/json", "Host": f"127.0.0.1:{self.port}"}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method != "GET" and "csrftoken" in self.cookies:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        started = self.clock()
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (OSError, http.client.HTTPException):
                self.close()
                # A kept-alive connection the server closed between requests: one fresh try (only for GET, so a
                # write is never sent twice); anything else is no answer.
                if attempt == 2 or method != "GET" or started < self.clock() - 1.0:
                    return Reply(0, b"", "", started, self.clock())
        ended = self.clock()
        if resp.will_close:
            self.close()
        for value in resp.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                if morsel.value:
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        return Reply(resp.status, data, resp.getheader("X-Cache", ""), started, ended)

    def login(self, username: str, password: str) -> Reply:
        self.credentials = (username, password)
        self.cookies.clear()
        return self.request("POST", "/api/auth/login/", {"username": username, "password": password})

    def relogin(self) -> Reply:
        return self.login(*self.credentials)
