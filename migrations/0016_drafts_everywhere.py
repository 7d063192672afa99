from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0015_agreement_taken_back')]

    initial = False

    operations = [
        # The drafts of the signed-in forms (a message, coming back, a step) share the request
        # form's table: one row per browser, person and form. The browser's own hash lets
        # sign-out and quick exit drop all of them at once.
        ops.AddField(
            model_name='RequestDraft',
            name='browser_hash',
            field=fields.CharField(default='', max_length=64),
        ),
        ops.AddIndex(
            model_name='RequestDraft',
            index=Index(fields=['browser_hash']),
        ),
    ]
