from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_consent')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Dossier',
            name='end_reason',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.AddField(
            model_name='Dossier',
            name='journal_head',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
        ops.AddField(
            model_name='Dossier',
            name='journal_seq',
            field=fields.IntField(default=0, db_default=0),
        ),
    ]
