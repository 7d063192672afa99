from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0019_concertation')]

    initial = False

    operations = [
        # A photo or a PDF of a dossier, added to a message or a step. Its bytes and its name
        # are sealed with the dossier's key, in the database: no file on a disk to forget.
        ops.CreateModel(
            name='Document',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dossier', fields.ForeignKeyField('models.Dossier', source_field='dossier_id', db_constraint=True, to_field='id', related_name='documents', on_delete=OnDelete.CASCADE)),
                ('message', fields.ForeignKeyField('models.Message', source_field='message_id', null=True, db_constraint=True, to_field='id', related_name='documents', on_delete=OnDelete.CASCADE)),
                ('action', fields.ForeignKeyField('models.Action', source_field='action_id', null=True, db_constraint=True, to_field='id', related_name='documents', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('models.Person', source_field='author_id', db_constraint=True, to_field='id', related_name='documents', on_delete=OnDelete.RESTRICT)),
                ('media_type', fields.CharField(max_length=40)),
                ('size', fields.IntField()),
                ('pages', fields.IntField(default=0)),
                ('width', fields.IntField(default=0)),
                ('height', fields.IntField(default=0)),
                ('content', fields.BinaryField()),
                ('name', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'document', 'app': 'models', 'indexes': [Index(fields=['dossier_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'A file of a dossier. Its bytes and its name are sealed: erasing the key erases them,'},
            bases=['Model'],
        ),
        # Which documents went with a share: the partner opens them while its consent holds.
        ops.CreateModel(
            name='SharedDocument',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('share', fields.ForeignKeyField('models.Share', source_field='share_id', db_constraint=True, to_field='id', related_name='documents', on_delete=OnDelete.CASCADE)),
                ('document', fields.ForeignKeyField('models.Document', source_field='document_id', db_constraint=True, to_field='id', related_name='shared', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'shared_document', 'app': 'models', 'indexes': [Index(fields=['share_id']), Index(fields=['document_id'])], 'pk_attr': 'id', 'table_description': "A document sent with a share: the partner opens it while that share's consent holds."},
            bases=['Model'],
        ),
        # A worker's download of a document is a look, not news: the partial index that counts
        # news leaves it out, as it leaves out the other looks.
        ops.RunSQL(
            "DROP INDEX journal_entry_news",
            reverse_sql=(
                "CREATE INDEX journal_entry_news ON journal_entry (dossier_id, at)"
                " WHERE event NOT IN"
                " ('dossier.exported', 'dossier.read', 'dossier.read_refused', 'share.read')"
            ),
        ),
        ops.RunSQL(
            "CREATE INDEX journal_entry_news ON journal_entry (dossier_id, at)"
            " WHERE event NOT IN ('document.read', 'dossier.exported', 'dossier.read',"
            " 'dossier.read_refused', 'share.read')",
            reverse_sql="DROP INDEX journal_entry_news",
        ),
    ]
