"""`python backend/manage.py invalidate FAMILY` (or `all`): every key of the family becomes a miss, in
constant time (its namespace version is bumped; nothing is scanned). For deploys that change a value's shape.
Exits 1, naming the cache, when that cache is not Redis or Redis does not answer (caching/management/redis_target.py)."""

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from caching import keys
from caching.invalidation import invalidate_family
from caching.management.redis_target import require_redis


class Command(BaseCommand):
    help = "Invalidate every cached key of a key family (constant time), or of all families."

    def add_arguments(self, parser):
        parser.add_argument("family", choices=[*keys.FAMILIES, "all"], help="key family name, or 'all'")

    def handle(self, *args, family, **options):
        names = list(keys.FAMILIES) if family == "all" else [family]
        target = require_redis()
        for name in names:
            try:
                invalidate_family(name)
            except RedisError as exc:
                raise CommandError(f"{name} keys NOT invalidated: {target} failed ({type(exc).__name__}: {exc})") from exc
            self.stdout.write(f"invalidated every {name} key ({keys.FAMILIES[name].pattern}) in {target}")
