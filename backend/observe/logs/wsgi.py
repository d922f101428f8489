"""One JSON log line per request, around the whole WSGI application (Django and api.fast_path alike): method,
path (never the query string, which may carry secrets), status, duration and the request id, which is also
answered in X-Request-ID. Logged when the response is closed, so a streamed response counts its whole length,
and after Django's request_finished (the relay's delivery) has run with the id still set."""

import logging
import time

from observe.logs import context

logger = logging.getLogger("observe.request")
HEADER = "X-Request-ID"


def wrap(app, enabled: bool):
    """`app` with request ids and request lines when enabled (LOG_FORMAT=json); else `app` itself, at no cost."""
    if not enabled:
        return app

    def application(environ, start_response):
        rid = context.new_or_given(environ.get("HTTP_X_REQUEST_ID"))
        token = context.request_id.set(rid)
        started = time.perf_counter()
        status = []

        def start(status_line, headers, exc_info=None):
            status.append(status_line)
            return start_response(status_line, [*headers, (HEADER, rid)], exc_info)

        try:
            result = app(environ, start)
        except BaseException:
            context.request_id.reset(token)
            raise
        return _Logged(result, environ, status, started, token)

    return application


class _Logged:
    """The response iterable, passed through; logs the request line when the server closes it."""

    def __init__(self, result, environ, status, started, token):
        self.result, self.environ, self.status, self.started, self.token = result, environ, status, started, token

    def __iter__(self):
        return iter(self.result)

    def close(self):
        try:
            if hasattr(self.result, "close"):
                self.result.close()
        finally:
            code = int(self.status[0].split(" ", 1)[0]) if self.status else 0
            logger.info(
                "request",
                extra={
                    "method": self.environ.get("REQUEST_METHOD"),
                    "path": self.environ.get("PATH_INFO"),
                    "status": code,
                    "duration_ms": round((time.perf_counter() - self.started) * 1000, 2),
                },
            )
            context.request_id.reset(self.token)
