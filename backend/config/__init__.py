"""The Django project. Importing it loads the Celery app, so that @shared_task tasks bind to it in every process
(Celery's Django guide)."""

from .celery import app as celery_app

__all__ = ("celery_app",)
