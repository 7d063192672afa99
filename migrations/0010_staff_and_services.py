from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from portal.models import Role
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0009_page_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FirstCodes',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.OneToOneField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='first_codes', on_delete=OnDelete.CASCADE)),
                ('sealed', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'first_codes', 'app': 'models', 'pk_attr': 'id', 'table_description': "A new account's recovery codes, sealed, waiting for their one showing."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PartnerChange',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('partner', fields.ForeignKeyField('models.Partner', source_field='partner_id', db_constraint=True, to_field='id', related_name='changes', on_delete=OnDelete.CASCADE)),
                ('changed_by', fields.ForeignKeyField('models.Person', source_field='changed_by_id', null=True, db_constraint=True, to_field='id', related_name='partner_changes', on_delete=OnDelete.SET_NULL)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('changes', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'partner_change', 'app': 'models', 'indexes': [Index(fields=['partner_id', 'at'])], 'pk_attr': 'id', 'table_description': "A change of a partner's entry in the directory: who, when, and each field before and after."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Credential',
            name='scope_dossier',
            field=fields.ForeignKeyField('models.Dossier', source_field='scope_dossier_id', null=True, db_constraint=True, to_field='id', related_name='scoped_credentials', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='OneTimeLink',
            name='dossier',
            field=fields.ForeignKeyField('models.Dossier', source_field='dossier_id', null=True, db_constraint=True, to_field='id', related_name='recovery_links', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='OneTimeLink',
            name='email',
            field=fields.CharField(default='', db_default='', max_length=254),
        ),
        ops.AddField(
            model_name='OneTimeLink',
            name='shown_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='Person',
            name='login',
            field=fields.CharField(null=True, unique=True, max_length=254),
        ),
        ops.AlterField(
            model_name='Person',
            name='role',
            field=fields.CharEnumField(description='YOUTH: youth\nRELATIVE: relative\nWORKER: worker\nPARTNER: partner\nADMIN: admin\nOPERATOR: operator', enum_type=Role, max_length=10),
        ),
        ops.AddField(
            model_name='Person',
            name='deactivated_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Person',
            name='deactivated_by',
            field=fields.ForeignKeyField('models.Person', source_field='deactivated_by_id', null=True, db_constraint=True, to_field='id', related_name='deactivated', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Service',
            name='email',
            field=fields.CharField(default='', db_default='', max_length=254),
        ),
        ops.AddField(
            model_name='Session',
            name='scope_dossier',
            field=fields.ForeignKeyField('models.Dossier', source_field='scope_dossier_id', null=True, db_constraint=True, to_field='id', related_name='scoped_sessions', on_delete=OnDelete.CASCADE),
        ),
    ]
