from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0010_staff_and_services')]

    initial = False

    operations = [
        ops.CreateModel(
            name='NoticeProgress',
            fields=[
                ('id', fields.IntField(primary_key=True, unique=True, db_index=True)),
                ('last_entry_id', fields.BigIntField(default=0)),
            ],
            options={'table': 'notice_progress', 'app': 'models', 'pk_attr': 'id', 'table_description': 'How far the notices have read the journal: one row, the last entry they turned into'},
            bases=['Model'],
        ),
        # The notices start reading at the journal's end: what came before was queued already.
        ops.RunSQL(
            "INSERT INTO notice_progress (id, last_entry_id)"
            " SELECT 1, COALESCE(MAX(id), 0) FROM journal_entry",
            reverse_sql="DELETE FROM notice_progress",
        ),
    ]
