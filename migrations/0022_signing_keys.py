from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0021_push')]

    initial = False

    operations = [
        # The keys receipts and journal heads are signed with: public halves kept for ever,
        # the active one's private half sealed with the master key.
        ops.CreateModel(
            name='SigningKey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kid', fields.CharField(unique=True, max_length=64)),
                ('public', fields.CharField(max_length=64)),
                ('sealed_private', fields.BinaryField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('retired_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'signing_key', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An Ed25519 key. Its public half is published for as long as the portal runs, so that'},
            bases=['Model'],
        ),
    ]
