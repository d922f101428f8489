"""The Celery worker: `celery -A worker.celery_app worker -Q cache` (and beat: `celery -A worker.celery_app beat`)."""
