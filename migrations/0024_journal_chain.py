import hashlib
import json
from datetime import UTC

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

# Entries read and written at a time while the chain is filled: memory stays flat.
PAGE = 1000
GENESIS = "0" * 64


def chain_hash(previous, entry):
    """``portal.proof.chain_hash`` as it was when this migration landed, copied: a migration
    keeps doing what it did then, whatever the code becomes."""
    fields_ = {name: entry[name] for name in ("dossier", "seq", "at", "event", "actor", "details")}
    form = json.dumps(fields_, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    return hashlib.sha256(previous.encode("ascii") + b"\n" + form).hexdigest()


async def fill_chains(apps, schema_editor):
    """The plain chain of every entry already written, dossier by dossier, in seq order.

    Written here in full rather than through ``portal.domain.journal`` or ``portal.proof``: a
    migration keeps doing what it did when it landed, whatever the code becomes. The entry's
    form is the one ``proof.ENTRY_FIELDS`` names, as ``journal.public_form`` builds it.
    """
    Dossier = apps.get_model("models", "Dossier")
    JournalEntry = apps.get_model("models", "JournalEntry")
    last_dossier = 0
    while True:
        dossiers = await (
            Dossier.filter(id__gt=last_dossier)
            .order_by("id")
            .limit(PAGE)
            .values_list("id", "reference")
        )
        if not dossiers:
            return
        for dossier_id, reference in dossiers:
            previous, after = GENESIS, 0
            while True:
                rows = await (
                    JournalEntry.filter(dossier_id=dossier_id, seq__gt=after)
                    .order_by("seq")
                    .limit(PAGE)
                    .values_list("id", "seq", "at", "event", "actor_id", "details")
                )
                for entry_id, seq, at, event, actor_id, details in rows:
                    previous = chain_hash(
                        previous,
                        {
                            "dossier": reference,
                            "seq": seq,
                            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
                            "event": event,
                            "actor": actor_id,
                            "details": details,
                        },
                    )
                    await JournalEntry.filter(id=entry_id).update(chain=previous)
                    after = seq
                if len(rows) < PAGE:
                    break
        last_dossier = dossiers[-1][0]


async def forget_chains(apps, schema_editor):
    """Going back drops the column: nothing to undo before."""


class Migration(migrations.Migration):
    dependencies = [('models', '0023_receipts')]

    initial = False

    operations = [
        # The plain SHA-256 chain beside the MACs: what her export carries and a signed head
        # fixes, checked with public things only.
        ops.AddField(
            model_name='JournalEntry',
            name='chain',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
        ops.RunPython(fill_chains, reverse_code=forget_chains),
    ]
