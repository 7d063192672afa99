from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_end_and_erase')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Notice',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='notices', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('next_try_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('attempts', fields.SmallIntField(default=0)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('given_up_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notice', 'app': 'models', 'indexes': [Index(fields=['sent_at', 'given_up_at', 'next_try_at'])], 'pk_attr': 'id', 'table_description': 'An e-mail to send: neutral words only, retried until it goes, never in a request.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Person',
            name='email',
            field=fields.CharField(default='', db_default='', max_length=254),
        ),
        ops.AddField(
            model_name='Person',
            name='news_seen_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Person',
            name='notify_by_email',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
