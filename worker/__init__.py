"""The Celery worker process: `celery -A worker.celery_app worker` (and beat: `celery -A worker.celery_app beat`)."""
