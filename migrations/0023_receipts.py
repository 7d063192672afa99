from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields, timezone

# What a partner promises, as the directory holds it (``portal.domain.partners.PROMISED`` on
# the day this was written; a migration keeps its own copy, the code may change).
PROMISED = (
    "name",
    "sector",
    "bound_by_secrecy",
    "secrecy_note",
    "secrecy_note_nl",
    "secrecy_note_en",
    "ethics_code",
    "ethics_code_nl",
    "ethics_code_en",
    "adheres_youth_code",
)


async def copy_promises(apps, schema_editor) -> None:
    """Consents given before this copy was kept get what the directory says now, marked as
    copied later: nobody knows any more what it said on the day she agreed."""
    Consent = apps.get_model("models", "Consent")
    Partner = apps.get_model("models", "Partner")
    now = timezone.now().isoformat(timespec="seconds")
    partners = {p.id: p for p in await Partner.all().using_db(schema_editor.client)}
    for consent in await Consent.all().using_db(schema_editor.client):
        partner = partners[consent.partner_id]
        promised = {name: getattr(partner, name) for name in PROMISED}
        promised["sector"] = str(getattr(partner.sector, "value", partner.sector))
        promised.update({"copied_at": now, "copied_after_agreement": True})
        await Consent.filter(id=consent.id).using_db(schema_editor.client).update(
            promised=promised
        )


class Migration(migrations.Migration):
    dependencies = [('models', '0022_signing_keys')]

    initial = False

    operations = [
        # What the partner promised when she agreed, copied then: the directory may change.
        ops.AddField(
            model_name='Consent',
            name='promised',
            field=fields.JSONField(default=dict, db_default='{}', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.RunPython(copy_promises, ops.RunPython.noop),
    ]
