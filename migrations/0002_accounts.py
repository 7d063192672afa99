from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from portal.models import ChallengePurpose, LinkKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OneTimeLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='INVITATION: invitation\nRECOVERY: recovery', enum_type=LinkKind, max_length=12)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='links', on_delete=OnDelete.CASCADE)),
                ('issued_by', fields.ForeignKeyField('models.Person', source_field='issued_by_id', null=True, db_constraint=True, to_field='id', related_name='links_issued', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'one_time_link', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An invitation for staff, or a recovery link given to a young person in person.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PasskeyChallenge',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('challenge', fields.CharField(unique=True, max_length=128)),
                ('purpose', fields.CharEnumField(description='REGISTER: register\nAUTHENTICATE: authenticate', enum_type=ChallengePurpose, max_length=12)),
                ('browser_hash', fields.CharField(max_length=64)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', null=True, db_constraint=True, to_field='id', related_name='passkey_challenges', on_delete=OnDelete.CASCADE)),
                ('pending', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'passkey_challenge', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A WebAuthn challenge: kept here, bound to one browser, single use, five minutes.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RecoveryCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='recovery_codes', on_delete=OnDelete.CASCADE)),
                ('code_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'recovery_code', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A single-use code to get back in, stored as a hash, shown once.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Session',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('second_factor_pending', fields.BooleanField(default=False)),
                ('device', fields.CharField(default='', max_length=120)),
                ('ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'session', 'app': 'models', 'indexes': [Index(fields=['person_id', 'ended_at'])], 'pk_attr': 'id', 'table_description': 'A signed-in browser. Only the hash of the random cookie value is stored.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Credential',
            name='totp_last_step',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Person',
            name='user_handle',
            field=fields.CharField(null=True, unique=True, max_length=64),
        ),
    ]
