# The images, one multi-stage build: `app` holds the dependencies and the code; `worker` and `web` only add
# their default command, the Procfile's line. `docker build .` builds web (the last stage);
# `docker build --target worker .` or `docker build -f Dockerfile.worker .` builds the worker image, whose
# stages are these same ones (tests/deploy/test_dockerfiles.py keeps them identical, so the layers are shared).
# No secrets here: SECRET_KEY, DATABASE_URL and REDIS_URL come from the environment at run time.
FROM python:3.11-slim-bookworm AS app

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app/backend:/app

WORKDIR /app

# An unprivileged user to run as; the code below stays owned by root (readable, not writable).
RUN groupadd --gid 10001 app && useradd --no-log-init --create-home --uid 10001 --gid 10001 app

# Dependencies first, in their own layer: rebuilt only when requirements.txt changes.
# psycopg[binary] ships libpq, so no apt packages are needed.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY backend ./backend
COPY worker ./worker
USER 10001:10001

# Celery worker and beat (beat overrides the command: the Procfile's `beat` line).
FROM app AS worker
CMD ["/bin/sh", "-c", "exec celery -A worker.celery_app worker --loglevel INFO"]

# Django behind gunicorn; Railway and compose set PORT.
FROM app AS web
EXPOSE 8000
CMD ["/bin/sh", "-c", "exec gunicorn config.wsgi --chdir backend --bind ${WEB_HOST:-[::]}:${PORT:-8000} --access-logfile -"]
