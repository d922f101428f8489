"""Observability beside the API: the staff dashboard (/dashboard/), its live event stream (Server-Sent Events) and
the Prometheus scrape (/metrics). The engine never imports this app; it reads the engine's own counters and tables
(the few imports are listed in observe/engine.py)."""

from django.apps import AppConfig


class ObserveConfig(AppConfig):
    name = "observe"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.conf import settings

        from observe.metrics import receivers

        receivers.connect()
        if settings.LOG_FORMAT == "json":
            from observe.logs import tasks

            tasks.connect()
