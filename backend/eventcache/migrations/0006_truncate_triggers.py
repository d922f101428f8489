"""Statement-level AFTER TRUNCATE triggers on every captured table (PostgreSQL): TRUNCATE and `manage.py flush`
write a "table.truncated" outbox event (eventcache/capture/triggers.py). SQLite has no TRUNCATE."""

from django.db import migrations

from eventcache.capture.triggers import install_truncate_on_postgresql, uninstall_truncate_on_postgresql


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0005_outbox_dropped_at"),
    ]

    operations = [migrations.RunPython(install_truncate_on_postgresql, uninstall_truncate_on_postgresql)]
