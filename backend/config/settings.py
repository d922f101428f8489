"""Django settings, configured only from the environment (see .env.example for every variable).

Secure by default: DEBUG is off unless DEBUG=1, and with DEBUG off the process refuses to start without
a real SECRET_KEY. Every CELERY_* setting lives here; config/celery.py only loads them.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ

from config.cli import SettingError
from eventcache import broker
from eventcache.redis_url import cache_url, parse_cluster_url

BACKEND_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BACKEND_DIR.parent

env = environ.Env()

# Local development: the repository's .env (git-ignored; `make run` writes one, .env.example documents every name)
# fills in what the environment leaves unset, and never overrides it, so `python backend/manage.py ...` works as the
# README prints it. ENV_FILE names another file; ENV_FILE="" reads none (the tests). Images never contain a .env
# (.dockerignore), so a deployment reads its environment only.
ENV_FILE = os.environ.get("ENV_FILE", str(REPO_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE, parse_comments=True)

DEBUG = env.bool("DEBUG", default=False)

INSECURE_KEY_MARKER = "django-insecure"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY or SECRET_KEY.startswith(INSECURE_KEY_MARKER) or SECRET_KEY in {"changeme", "change-me", "secret"}:
    if not DEBUG:
        raise SettingError(
            "SECRET_KEY is missing or a default value while DEBUG is off. Set SECRET_KEY to a long random "
            "string (python -c 'import secrets; print(secrets.token_urlsafe(50))'), or set DEBUG=1 for local work."
        )
    SECRET_KEY = SECRET_KEY or f"{INSECURE_KEY_MARKER}-local-development-only"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
# Railway probes the health check from this host, and injects the service's own domain.
ALLOWED_HOSTS += ["healthcheck.railway.app"]
if env.str("RAILWAY_PUBLIC_DOMAIN", default=""):
    ALLOWED_HOSTS.append(env.str("RAILWAY_PUBLIC_DOMAIN"))
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
if env.str("RAILWAY_PUBLIC_DOMAIN", default=""):
    CSRF_TRUSTED_ORIGINS.append(f"https://{env.str('RAILWAY_PUBLIC_DOMAIN')}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "planner",
    "eventcache",
    "api",
    "drf_spectacular_sidecar",  # Swagger UI's assets for /api/docs/, served locally (no CDN)
    "observe",  # /dashboard/ (staff), its event stream, /metrics
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static assets (API docs, dashboard, admin) from the app itself
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "api.middleware.AdminOnlyMessageMiddleware",  # Django's MessageMiddleware, skipped for /api/
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: PostgreSQL (psycopg 3) from DATABASE_URL, else a local SQLite file ---------------------
DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(BACKEND_DIR / "db.sqlite3")),
            # The web process and the worker write at once. A deferred transaction that read and then writes
            # fails at once with "database is locked" when another holds the write lock (the busy timeout does
            # not cover that upgrade), so write transactions take the lock when they begin and wait for it up
            # to `timeout` seconds; WAL lets readers go on while one writes (tests/integration/test_sqlite_locking.py).
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": env.float("SQLITE_BUSY_TIMEOUT_SECONDS", default=20.0),
                "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache and sessions on the URL's database, the Celery broker on the next one ----------------
REDIS_URL = env.str("REDIS_URL", default="")
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.5)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": cache_url(REDIS_URL),
            "KEY_PREFIX": "recipe_planner",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
                # A Redis outage degrades to cache misses (and the database) instead of 500s.
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
                "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
                "CONNECTION_POOL_KWARGS": {"health_check_interval": 30},
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "recipe-planner",
            "KEY_PREFIX": "recipe_planner",
        }
    }
# REDIS_CLUSTER_URL=redis://host:port[,host:port...] puts the cache, sessions and the events pub/sub on a Redis
# Cluster (docs/ARCHITECTURE.md, "On a Redis Cluster"). kombu has no cluster transport, so the Celery broker stays a
# standalone Redis (REDIS_URL, its next database) or CELERY_BROKER_URL (e.g. amqp://).
REDIS_CLUSTER_URL = env.str("REDIS_CLUSTER_URL", default="")
REDIS_CLUSTER_RETRIES = env.int("REDIS_CLUSTER_RETRIES", default=3)  # per command, each after a slot-map refresh
REDIS_CLUSTER_RETRY_BACKOFF_CAP = env.float("REDIS_CLUSTER_RETRY_BACKOFF_CAP", default=0.1)  # seconds
if REDIS_CLUSTER_URL:
    try:
        parse_cluster_url(REDIS_CLUSTER_URL)
    except ValueError as exc:
        raise SettingError(str(exc)) from None
    if not REDIS_URL and not env.str("CELERY_BROKER_URL", default=""):
        raise SettingError(
            "REDIS_CLUSTER_URL is set but there is no Celery broker: kombu cannot use a Redis Cluster. Set "
            "REDIS_URL to a standalone Redis (the broker uses its next database) or CELERY_BROKER_URL (amqp://...)."
        )
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            # A list: django-redis splits a string on commas into master and replicas.
            "LOCATION": [REDIS_CLUSTER_URL],
            "KEY_PREFIX": "recipe_planner",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "CONNECTION_FACTORY": "eventcache.store.cluster_client.ClusterConnectionFactory",
                "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
                "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
                "CLUSTER_RETRIES": REDIS_CLUSTER_RETRIES,
                "CLUSTER_RETRY_BACKOFF_CAP": REDIS_CLUSTER_RETRY_BACKOFF_CAP,
            },
        }
    }
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "eventcache.redis"

# Sessions are read from Redis and written through to the database, so a Redis flush or restart logs no one out:
# Django's cached_db, whose end (logout, the key rotated at login) is refused unless Redis confirms it
# (api/sessions.py: an ended session must not come back when Redis does).
SESSION_ENGINE = env.str("SESSION_ENGINE", default="api.sessions")
SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"

# --- Cache layer tunables (see docs/ARCHITECTURE.md) -------------------------------------------------------
EVENTCACHE_DOMAIN = "planner.cache"  # the module declaring every cached read (its DOMAIN); loaded by eventcache
CACHE_READS_ENABLED = env.bool("CACHE_READS_ENABLED", default=True)  # off = every read computes (bench baseline)
# Verified cached-GET hits answered in front of Django (api.fast_path, wrapped around the app in config/wsgi.py);
# 0 sends every request through Django.
API_FAST_PATH = env.bool("API_FAST_PATH", default=True)
CACHE_LEASE_SECONDS = env.float("CACHE_LEASE_SECONDS", default=10.0)  # how long one filler may hold a key
CACHE_LEASE_WAIT_SECONDS = env.float("CACHE_LEASE_WAIT_SECONDS", default=2.0)  # how long others wait for it
HOT_LISTS_TOP_N = env.int("HOT_LISTS_TOP_N", default=100)  # shopping lists kept warm by the worker
HOT_LISTS_HALF_LIFE_SECONDS = env.float("HOT_LISTS_HALF_LIFE_SECONDS", default=3600.0)
HOT_LISTS_TRACKED_MAX = env.int("HOT_LISTS_TRACKED_MAX", default=10_000)  # bound on the popularity index
PREFERENCES_TTL_JITTER_SECONDS = env.int("PREFERENCES_TTL_JITTER_SECONDS", default=3600)
PREFERENCES_ACTIVE_DAYS = env.int("PREFERENCES_ACTIVE_DAYS", default=30)
PREFERENCES_REFRESH_CHUNK = env.int("PREFERENCES_REFRESH_CHUNK", default=500)
# Meal plans are read and written only this many days either side of today (400 beyond): each day is a cache
# key, so this bounds a family's plan keys (api/views/meal_plans.py).
MEAL_PLAN_WINDOW_DAYS = env.int("MEAL_PLAN_WINDOW_DAYS", default=731)
# Caps that keep one user's shopping lists cheap to compute and to cache (api/views/shopping_lists.py): 409 or
# 400 beyond them. GET /api/shopping-lists/ answers SHOPPING_LISTS_PAGE_SIZE lists a page, each page one cached value
# computed in a constant number of queries; the cap bounds a user's pages (and so their keys) to
# ceil(SHOPPING_LISTS_MAX_PER_USER / SHOPPING_LISTS_PAGE_SIZE).
SHOPPING_LISTS_MAX_PER_USER = env.int("SHOPPING_LISTS_MAX_PER_USER", default=50)
SHOPPING_LISTS_PAGE_SIZE = env.int("SHOPPING_LISTS_PAGE_SIZE", default=10)
if not 1 <= SHOPPING_LISTS_PAGE_SIZE <= SHOPPING_LISTS_MAX_PER_USER:
    raise SettingError("SHOPPING_LISTS_PAGE_SIZE must be between 1 and SHOPPING_LISTS_MAX_PER_USER")
SHOPPING_LIST_MAX_DAYS = env.int("SHOPPING_LIST_MAX_DAYS", default=31)
SHOPPING_LIST_MAX_MANUAL_ITEMS = env.int("SHOPPING_LIST_MAX_MANUAL_ITEMS", default=200)

# --- Events and the transactional outbox -------------------------------------------------------------------
EVENTS_CHANNEL = "recipe_planner:events"
EVENT_BATCH_SIZE = env.int("EVENT_BATCH_SIZE", default=500)  # events per Celery task
# A worker applies its message together with up to this many other delivered-but-unapplied outbox rows
# (eventcache/consume/apply.py); 0 applies each message on its own.
WORKER_COALESCE_MAX_ROWS = env.int("WORKER_COALESCE_MAX_ROWS", default=5000)
# The worker's pub/sub listener drops the keys an event touches as soon as it is published (eventcache/consume/listener.py);
# its Celery task applies the event again from the outbox either way. 0 leaves the listener to observability.
EVENTS_DROP_ON_PUBLISH = env.bool("EVENTS_DROP_ON_PUBLISH", default=True)
# With several workers one listener drops on publish: the one holding the `listener` role (eventcache/consume/lease.py),
# a Redis lease of this many seconds that it renews every EVENTS_LISTENER_RENEW_SECONDS; the others stand by and
# try as often. A dead holder's role is taken over within lease + renew seconds. 0 = no lease: every worker's
# listener drops every event (one dependents look-up per worker per event).
EVENTS_LISTENER_LEASE_SECONDS = env.float("EVENTS_LISTENER_LEASE_SECONDS", default=5.0)
EVENTS_LISTENER_RENEW_SECONDS = env.float("EVENTS_LISTENER_RENEW_SECONDS", default=1.0)
# A request's commit learns its outbox rows from PostgreSQL notices in its writes' own responses instead of one
# look-up (eventcache/relay/notices.py). 0 behind a transaction-pooling pgbouncer, where a session SET does not hold.
WRITER_NOTICES = env.bool("WRITER_NOTICES", default=True)
OUTBOX_SWEEP_SECONDS = env.float("OUTBOX_SWEEP_SECONDS", default=1.0)
OUTBOX_UNSENT_GRACE_SECONDS = env.float("OUTBOX_UNSENT_GRACE_SECONDS", default=1.0)
OUTBOX_RESEND_AFTER_SECONDS = env.float("OUTBOX_RESEND_AFTER_SECONDS", default=30.0)
OUTBOX_RETENTION_SECONDS = env.float("OUTBOX_RETENTION_SECONDS", default=3600.0)

# --- Celery (JSON only; config/celery.py reads every CELERY_* name below) ---------------------------------
# The broker: CELERY_BROKER_URL (amqp://... for RabbitMQ), else REDIS_URL's next logical database (eventcache/broker.py).
CELERY_BROKER_URL = broker.celery_broker_url(env.str("CELERY_BROKER_URL", default=""), REDIS_URL)
BROKER_IS_AMQP = broker.is_amqp(CELERY_BROKER_URL)
# without a broker, events are processed inline in the web process
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL == "memory://"
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# Celery's Django fixup closes every database connection after every task unless this is set, which costs a
# new PostgreSQL connection per task; reuse them, and let CONN_MAX_AGE/CONN_HEALTH_CHECKS retire them.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task running when the broker connection drops finishes; on Redis its message stays unacknowledged there and its
# rows are applied again at the reconnection (worker/broker_loss.py, worker/backlog.py); RabbitMQ requeues it. Set
# explicitly: Celery warns on every connection loss while it is unset.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
# The one queue: event batches, the outbox sweep and the warmers. Every task goes to it and the worker (started
# without -Q) consumes it.
CELERY_TASK_DEFAULT_QUEUE = "cache"
if BROKER_IS_AMQP:
    # A quorum queue (Celery then uses per-consumer QoS and native delayed delivery for the retries' countdowns,
    # which needs a topic exchange), publisher confirms (eventcache/broker.py).
    CELERY_TASK_DEFAULT_QUEUE_TYPE = "quorum"
    CELERY_TASK_DEFAULT_EXCHANGE_TYPE = "topic"
    CELERY_BROKER_TRANSPORT_OPTIONS = broker.amqp_transport_options(
        confirm_publish=env.bool("CELERY_CONFIRM_PUBLISH", default=True)
    )
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = broker.redis_transport_options(
        visibility_timeout=env.int("CELERY_VISIBILITY_TIMEOUT", default=300)
    )
# Beat keeps its schedule in memory (celery.beat:Scheduler, under the role check below): the shelve file of the
# default PersistentScheduler is lost on every redeploy anyway, and closing it from the SIGTERM handler while a tick
# runs made beat exit non-zero ("invalid operation on closed shelf"). After a restart each entry is simply due one
# period later. Only the beat holding the `beat` role (a Redis lease, eventcache/beat.py) sends: a second beat (a
# deploy's overlap, a mistake) stands by and takes over within BEAT_LEASE_SECONDS + BEAT_RENEW_SECONDS of the first
# one's end.
CELERY_BEAT_SCHEDULER = "eventcache.beat:LeasedScheduler"
BEAT_LEASE_SECONDS = env.float("BEAT_LEASE_SECONDS", default=10.0)
BEAT_RENEW_SECONDS = env.float("BEAT_RENEW_SECONDS", default=2.0)
# Beat names tasks by their registered names (eventcache/tasks.py). A message queued under a task's former name
# before a deploy that renamed it is refused by the new worker as an unknown task; its outbox rows stay unprocessed,
# so the sweep sends them again under the new name (OUTBOX_RESEND_AFTER_SECONDS).
CELERY_BEAT_SCHEDULE = {
    # Sweeps that wait in the queue longer than a few periods are stale (the next one covers them).
    "sweep-outbox": {
        "task": "eventcache.tasks.sweep_outbox",
        "schedule": OUTBOX_SWEEP_SECONDS,
        "options": {"expires": max(5.0, 5 * OUTBOX_SWEEP_SECONDS)},
    },
    "refresh-hot-shopping-lists": {"task": "eventcache.tasks.refresh_hot_lists", "schedule": timedelta(minutes=5)},
    "refresh-preferences": {"task": "eventcache.tasks.refresh_preferences", "schedule": timedelta(hours=1)},
}

# --- Observability (backend/observe): the staff dashboard, its event stream, /metrics ----------------------
OBSERVE_WINDOW_SECONDS = env.float("OBSERVE_WINDOW_SECONDS", default=300.0)  # the dashboard's "last minutes"
# One event stream holds a gunicorn sync worker while it lasts: it ends within this many seconds (keep it under
# gunicorn's --timeout, 30 s by default) or after this many events, and the browser reconnects.
OBSERVE_SSE_MAX_SECONDS = env.float("OBSERVE_SSE_MAX_SECONDS", default=20.0)
OBSERVE_SSE_MAX_EVENTS = env.int("OBSERVE_SSE_MAX_EVENTS", default=200)
LOGIN_URL = "/admin/login/"  # where the dashboard sends anonymous visitors (staff log in there)
# /metrics answers only `Authorization: Bearer <token>`; with no token configured it answers 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if not METRICS_TOKEN and env.str("METRICS_TOKEN_FILE", default=""):
    METRICS_TOKEN = Path(env.str("METRICS_TOKEN_FILE")).read_text().strip()
# The worker serves its own metrics (its batches) on this port (0: off); not published outside the private network.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
WORKER_METRICS_ADDR = env.str("WORKER_METRICS_ADDR", default="0.0.0.0")

# --- Security ---------------------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # API clients read csrftoken to send X-CSRFToken
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "api.errors.csrf_failure"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]  # health checks and scrapes speak plain HTTP inside the network
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=64 * 1024)  # larger bodies get 413
LOGIN_RATE_LIMIT = env.str("LOGIN_RATE_LIMIT", default="5/m")  # failed logins per username and per address
# /healthz says "degraded" when Redis's used_memory reaches this share of its maxmemory (api/views/health.py).
REDIS_MEMORY_DEGRADED_RATIO = env.float("REDIS_MEMORY_DEGRADED_RATIO", default=0.9)
# Behind a proxy every client shares the proxy's REMOTE_ADDR: name the header the proxy overwrites
# (Railway's edge sets X-Real-IP, so its config uses HTTP_X_REAL_IP). Never a header clients control.
RATELIMIT_IP_META_KEY = env.str("RATELIMIT_IP_META_KEY", default="REMOTE_ADDR")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# The images run no collectstatic: WhiteNoise serves each app's static/ directly through Django's finders.
# STATIC_ROOT only when a deployment collects the files (WhiteNoise then serves them from there too).
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
WHITENOISE_USE_FINDERS = True

# --- Logging: one line per record on stderr; URLs pass through eventcache.redis_url.mask before logging -------
# LOG_FORMAT=json: one JSON object per line (observe.logs), with the request id on every line, one line per request
# and one per worker batch.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise SettingError("LOG_FORMAT is plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "observe.logs.formatter.JsonFormatter"},
    },
    "filters": {"request_id": {"()": "observe.logs.context.RequestIdFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Celery logs every task received/run and every beat send at INFO, and the sweep runs each second:
        # `make run` sets WARNING (scripts/run.py) so its output stays readable.
        **{
            name: {"level": env.str("CELERY_TASK_LOG_LEVEL", default="INFO")}
            for name in ("celery.app.trace", "celery.worker.strategy", "celery.beat")
        },
    },
}
