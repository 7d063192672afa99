from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from portal.models import Channel

class Migration(migrations.Migration):
    dependencies = [('models', '0020_documents')]

    initial = False

    operations = [
        # The devices on which a person asked to be told, by Web Push, that there is news.
        ops.CreateModel(
            name='PushSubscription',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='push_subscriptions', on_delete=OnDelete.CASCADE)),
                ('endpoint', fields.CharField(max_length=1024)),
                ('p256dh', fields.CharField(max_length=100)),
                ('auth', fields.CharField(max_length=30)),
                ('label', fields.CharField(default='', max_length=60)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'push_subscription', 'app': 'models', 'unique_together': (('person', 'endpoint'),), 'indexes': [Index(fields=['person_id', 'created_at'])], 'pk_attr': 'id', 'table_description': "One browser on one device, subscribed with the portal's VAPID key."},
            bases=['Model'],
        ),
        # A notice goes by e-mail (all the notices until now) or by push; one waits per person
        # and channel.
        ops.AddField(
            model_name='Notice',
            name='channel',
            field=fields.CharEnumField(default=Channel.EMAIL, description='EMAIL: email\nPUSH: push', enum_type=Channel, max_length=8),
        ),
    ]
