# The web image: Django behind gunicorn. Build: docker build -t recipe-planner-web .
# No secrets here: SECRET_KEY, DATABASE_URL and REDIS_URL come from the environment at run time.
FROM python:3.11-slim-bookworm

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

EXPOSE 8000
# [::] listens on IPv6 and IPv4 (Railway's private network is IPv6); Railway and compose set PORT.
CMD ["/bin/sh", "-c", "exec gunicorn config.wsgi --chdir backend --bind [::]:${PORT:-8000} --access-logfile -"]
