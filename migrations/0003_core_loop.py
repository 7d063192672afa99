from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_accounts')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Action',
            name='third_party',
            field=fields.CharField(default='', db_default='', max_length=200),
        ),
        ops.AddField(
            model_name='Dossier',
            name='last_activity_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Dossier',
            name='subject_seen_seq',
            field=fields.IntField(default=0, db_default=0),
        ),
    ]
