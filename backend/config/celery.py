"""The project's one Celery app, laid out as Celery's Django guide does it (examples/django/proj/proj/celery.py):
every setting comes from Django's settings (the CELERY_* names in config/settings.py) and the tasks are found in
the installed apps' tasks modules (eventcache/tasks.py). config/__init__.py imports it, so the web process sends
its tasks with this same app; the worker's entry point, worker/celery_app.py, adds the worker-only parts.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("recipe_planner")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
