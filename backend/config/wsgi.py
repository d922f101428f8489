"""The WSGI application (`gunicorn config.wsgi`: Dockerfile, docker-compose.yml, railway/web.json, Makefile and
the bench's servers all start this module): Django, behind api.fast_path, which answers verified cached-GET hits
itself and hands every other request to Django (API_FAST_PATH=0 turns it off).

Once the app is loaded, almost every object that exists (modules, settings, models, the URLconf and the
views it imports) lives as long as the process. One collection drops the start-up garbage, then
gc.freeze() moves the rest into the permanent generation, which the cyclic collector never scans again:
without it, a full collection of those objects stalls whichever request triggers it, and every
young-generation collection is slower too (Instagram's practice; docs/ARCHITECTURE.md, "Reads: the hit path").
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402
from observe.logs import wsgi as request_log  # noqa: E402

from api import fast_path  # noqa: E402 - needs the apps loaded (get_wsgi_application runs django.setup())

# Outermost: with LOG_FORMAT=json every request, fast-path hits included, gets a request id and one log line.
application = request_log.wrap(fast_path.wrap(django_application), settings.LOG_FORMAT == "json")


def _freeze_start_up_objects() -> None:
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - import the URLconf and its views now, before freezing
    gc.collect()
    gc.freeze()


_freeze_start_up_objects()
