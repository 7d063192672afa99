from tortoise import migrations
from tortoise.migrations import operations as ops

class Migration(migrations.Migration):
    dependencies = [('models', '0011_notices_read_the_journal')]

    initial = False

    operations = [
        # Foreign keys that pages look up by, which PostgreSQL does not index by itself: at five
        # years of the Fédération's AMOs (bench/scale.py) each lookup read a whole table of
        # 100,000 rows, and the dossier pages and the inbox took two to six times as long.
        # The request of a dossier (both dossier pages, the inbox).
        ops.RunSQL(
            "CREATE INDEX request_dossier ON request (dossier_id)",
            reverse_sql="DROP INDEX request_dossier",
        ),
        # The colleagues of a worker (the worker's dossier page, the inbox, the staff page).
        ops.RunSQL(
            "CREATE INDEX person_service ON person (service_id)",
            reverse_sql="DROP INDEX person_service",
        ),
        # A person's ways in (every sign-in).
        ops.RunSQL(
            "CREATE INDEX credential_person ON credential (person_id)",
            reverse_sql="DROP INDEX credential_person",
        ),
    ]
