from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0012_lookup_indexes')]

    initial = False

    operations = [
        # What the request form holds before it is sent, sealed with a key only the browser has.
        ops.CreateModel(
            name='RequestDraft',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key_hash', fields.CharField(unique=True, max_length=64)),
                ('sealed', fields.TextField(unique=False)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'request_draft', 'app': 'models', 'pk_attr': 'id', 'table_description': 'What someone typed in the request form before sending it, so a reload loses nothing.'},
            bases=['Model'],
        ),
        # "It is urgent": the inbox shows these requests first.
        ops.AddField(
            model_name='Request',
            name='urgent',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
