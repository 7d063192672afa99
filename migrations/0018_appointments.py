from tortoise import migrations
from tortoise.migrations import operations as ops
from portal.models.appointments import AppointmentStatus, PlaceKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0017_working_days')]

    initial = False

    operations = [
        # A meeting a worker proposes to the young person. Where and with whom are sealed
        # with the dossier's key; a meeting with a third party links the step she agrees to.
        ops.CreateModel(
            name='Appointment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dossier', fields.ForeignKeyField('models.Dossier', source_field='dossier_id', db_constraint=True, to_field='id', related_name='appointments', on_delete=OnDelete.CASCADE)),
                ('proposed_by', fields.ForeignKeyField('models.Person', source_field='proposed_by_id', db_constraint=True, to_field='id', related_name='appointments_proposed', on_delete=OnDelete.RESTRICT)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('minutes', fields.SmallIntField()),
                ('place_kind', fields.CharEnumField(description='AMO: amo\nSCHOOL: school\nHEARING: hearing\nPHONE: phone\nELSEWHERE: elsewhere', enum_type=PlaceKind, max_length=12)),
                ('place', fields.TextField(default='', unique=False)),
                ('with_whom', fields.TextField(default='', unique=False)),
                ('status', fields.CharEnumField(description='PROPOSED: proposed\nACCEPTED: accepted\nDECLINED: declined\nOTHER_TIME_ASKED: other_time_asked\nCANCELLED: cancelled\nDONE: done\nMISSED: missed', enum_type=AppointmentStatus, max_length=16)),
                ('answer_word', fields.TextField(default='', unique=False)),
                ('action', fields.ForeignKeyField('models.Action', source_field='action_id', null=True, db_constraint=True, to_field='id', related_name='appointments', on_delete=OnDelete.SET_NULL)),
                ('reminded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('answered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('outcome_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'appointment', 'app': 'models', 'indexes': [Index(fields=['dossier_id', 'starts_at']), Index(fields=['status', 'starts_at'])], 'pk_attr': 'id', 'table_description': 'A meeting proposed by a worker: the subject accepts, declines or asks for another time.'},
            bases=['Model'],
        ),
    ]
