from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_core_loop')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ActionPartner',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('action', fields.ForeignKeyField('models.Action', source_field='action_id', db_constraint=True, to_field='id', related_name='partners', on_delete=OnDelete.CASCADE)),
                ('partner', fields.ForeignKeyField('models.Partner', source_field='partner_id', db_constraint=True, to_field='id', related_name='action_links', on_delete=OnDelete.RESTRICT)),
                ('attended', fields.BooleanField(null=True)),
            ],
            options={'table': 'action_partner', 'app': 'models', 'unique_together': (('action', 'partner'),), 'pk_attr': 'id', 'table_description': 'A partner taking part in a step: the several partners of a concertation meeting.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Consent',
            name='expiry_recorded',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Share',
            name='action',
            field=fields.ForeignKeyField('models.Action', source_field='action_id', null=True, db_constraint=True, to_field='id', related_name='shares', on_delete=OnDelete.RESTRICT),
        ),
    ]
