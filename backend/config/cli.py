"""A setting the environment must provide, missing or unsafe, as the command line shows it: one line on stderr naming
it and exit status 1 (manage.py and the Celery app wrap their Django set-up in `setting_errors_exit`), not a traceback
through Django's set-up. Other errors keep their traceback: they are bugs, not configuration."""

import contextlib
import sys

from django.core.exceptions import ImproperlyConfigured


class SettingError(ImproperlyConfigured):
    """Raised by config/settings.py for a setting the environment must fix; the message says how."""


@contextlib.contextmanager
def setting_errors_exit():
    try:
        yield
    except SettingError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
