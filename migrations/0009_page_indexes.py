from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0008_sealed_text_lengths')]

    initial = False

    operations = [
        # What counts as news: the journal less its looks and exports. Every worker's look is
        # an entry, so without this index a count of news reads all the looks since.
        ops.RunSQL(
            "CREATE INDEX journal_entry_news ON journal_entry (dossier_id, at)"
            " WHERE event NOT IN"
            " ('dossier.exported', 'dossier.read', 'dossier.read_refused', 'share.read')",
            reverse_sql="DROP INDEX journal_entry_news",
        ),
        ops.AddIndex(
            model_name='Assignment',
            index=Index(fields=['worker_id', 'ended_at']),
        ),
        ops.AddIndex(
            model_name='Dossier',
            index=Index(fields=['subject_id']),
        ),
    ]
