"""The writer's notice (PostgreSQL): an AFTER INSERT trigger on events_outbox that hands each new row to the
connection that wrote it, where that connection asked for it (eventcache/capture/triggers.py, relay/notices.py)."""

from django.db import migrations

from eventcache.capture.triggers import install_notice_on_postgresql, uninstall_notice_on_postgresql


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0007_outbox_xid"),
    ]

    operations = [migrations.RunPython(install_notice_on_postgresql, uninstall_notice_on_postgresql)]
