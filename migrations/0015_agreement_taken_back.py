from tortoise import migrations
from tortoise.migrations import operations as ops
from portal.models.actions import ActionStatus
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0014_translations')]

    initial = False

    operations = [
        # An agreed step the subject took back before it was done (rule 4): a status of its own,
        # in the same column (its values fit its ten characters).
        ops.AlterField(
            model_name='Action',
            name='status',
            field=fields.CharEnumField(description='PROPOSED: proposed\nAGREED: agreed\nDECLINED: declined\nDONE: done\nCANCELLED: cancelled\nWITHDRAWN: withdrawn', enum_type=ActionStatus, max_length=10),
        ),
    ]
