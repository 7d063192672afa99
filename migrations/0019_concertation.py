from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from portal.models.concertation import AskedBy, Membership, MinutesStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0018_appointments')]

    initial = False

    # Concertation meetings: the service's members and its charter (fr/nl/en, like the hours),
    # and for each meeting its time frame (asked, informed, held within 3 days) and its minutes,
    # sealed, shared with the partners only once the young person approved them.
    operations = [
        ops.CreateModel(
            name='Concertation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('action', fields.OneToOneField('models.Action', source_field='action_id', db_constraint=True, to_field='id', related_name='concertation', on_delete=OnDelete.CASCADE)),
                ('dossier', fields.ForeignKeyField('models.Dossier', source_field='dossier_id', db_constraint=True, to_field='id', related_name='concertations', on_delete=OnDelete.CASCADE)),
                ('asked_by', fields.CharEnumField(description='YOUNG: young\nFAMILY: family\nPARTNER: partner\nTEAM: team', enum_type=AskedBy, max_length=10)),
                ('asked_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('informed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('meeting_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('held_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('categories', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('minutes', fields.TextField(default='', unique=False)),
                ('minutes_status', fields.CharEnumField(default=MinutesStatus.NONE, description='NONE: none\nWAITING: waiting\nCHANGE_ASKED: change_asked\nAPPROVED: approved', enum_type=MinutesStatus, max_length=15)),
                ('minutes_written_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('change_word', fields.TextField(default='', unique=False)),
                ('approved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('shared_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'concertation', 'app': 'models', 'indexes': [Index(fields=['dossier_id', 'asked_at'])], 'pk_attr': 'id', 'table_description': 'The time frame and the minutes of one concertation meeting (a step of the dossier).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ConcertationMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('service', fields.ForeignKeyField('models.Service', source_field='service_id', db_constraint=True, to_field='id', related_name='concertation_members', on_delete=OnDelete.CASCADE)),
                ('partner', fields.ForeignKeyField('models.Partner', source_field='partner_id', db_constraint=True, to_field='id', related_name='concertation_memberships', on_delete=OnDelete.RESTRICT)),
                ('membership', fields.CharEnumField(description='PERMANENT: permanent\nASSOCIATED: associated', enum_type=Membership, max_length=10)),
                ('adhered_on', fields.DateField()),
            ],
            options={'table': 'concertation_member', 'app': 'models', 'unique_together': (('service', 'partner'),), 'pk_attr': 'id', 'table_description': "A partner of the directory in a service's concertation, since it adhered to its charter."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Service',
            name='charter',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.AddField(
            model_name='Service',
            name='charter_en',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.AddField(
            model_name='Service',
            name='charter_nl',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
    ]
