from tortoise import fields
from tortoise import migrations
from tortoise.migrations import operations as ops


class AlterFieldInPlace(ops.AlterField):
    """Widen a column where the database enforces its length, leave SQLite's as it is.

    SQLite does not enforce a VARCHAR's length, and changing a column there means rebuilding
    its table: that drops the table's indexes and, with foreign keys on, deletes the rows of
    other tables that cascade from it. Only the model's state changes on SQLite.
    """

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor is not None and state_editor.client.capabilities.dialect == "sqlite":
            return
        await super().database_forward(app_label, old_state, new_state, state_editor)

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor is not None and state_editor.client.capabilities.dialect == "sqlite":
            return
        await super().database_backward(app_label, old_state, new_state, state_editor)


class Migration(migrations.Migration):
    dependencies = [('models', '0007_submitted_forms')]

    initial = False

    # Sealed values are longer than what was typed: 200 characters become up to 1,100.
    operations = [
        AlterFieldInPlace(
            model_name='Action',
            name='third_party',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        AlterFieldInPlace(
            model_name='Request',
            name='contact_hours',
            field=fields.TextField(default='', unique=False),
        ),
    ]
