"""The floor of a hit over HTTP: a minimal WSGI app answering a constant JSON body, served by gunicorn with
the same settings as ours (`bench.peers.floor:application`). No Django, no Redis."""

BODY = b'{"id":1,"title":"constant"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
