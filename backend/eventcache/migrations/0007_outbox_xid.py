from django.db import migrations, models

import eventcache.models
from eventcache.capture.triggers import install_on_sqlite, uninstall_on_sqlite


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0006_truncate_triggers"),
    ]

    operations = [
        migrations.RunPython(uninstall_on_sqlite, install_on_sqlite),  # see eventcache/capture/triggers.py
        migrations.AddField(
            model_name="outboxevent",
            name="xid",
            field=models.BigIntegerField(blank=True, db_default=eventcache.models.CurrentXid(), null=True),
        ),
        migrations.RunPython(install_on_sqlite, uninstall_on_sqlite),
    ]
