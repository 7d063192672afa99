from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0016_drafts_everywhere')]

    initial = False

    operations = [
        # A service's own closing days (set by its admin): the answer and reply targets skip
        # them as they skip week-ends and Belgian public holidays.
        ops.CreateModel(
            name='ClosingPeriod',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('service', fields.ForeignKeyField('models.Service', source_field='service_id', db_constraint=True, to_field='id', related_name='closing_periods', on_delete=OnDelete.CASCADE)),
                ('first_day', fields.DateField()),
                ('last_day', fields.DateField()),
                ('label', fields.CharField(default='', max_length=80)),
                ('created_by', fields.ForeignKeyField('models.Person', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='closings_added', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('removed_by', fields.ForeignKeyField('models.Person', source_field='removed_by_id', null=True, db_constraint=True, to_field='id', related_name='closings_removed', on_delete=OnDelete.SET_NULL)),
                ('removed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'closing_period', 'app': 'models', 'indexes': [Index(fields=['service_id', 'last_day'])], 'pk_attr': 'id', 'table_description': 'Days a service is closed (a summer week, a team day): not counted as working days.'},
            bases=['Model'],
        ),
    ]
