"""Web Push: the devices on which a person asked to be told that there is something new."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

if TYPE_CHECKING:
    from portal.models.accounts import Person


class PushSubscription(Model):
    """One browser on one device, subscribed with the portal's VAPID key.

    The endpoint is the push service's address for that browser (a host the settings allow);
    p256dh and auth are the browser's keys that each push is encrypted to. Nothing here says
    what the person does on the portal.
    """

    id = fields.BigIntField(primary_key=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="push_subscriptions", on_delete=fields.CASCADE
    )
    person_id: int
    endpoint = fields.CharField(max_length=1024)
    p256dh = fields.CharField(max_length=100)
    auth = fields.CharField(max_length=30)
    # The browser and system, as the sessions list shows them ("Firefox on Android").
    label = fields.CharField(max_length=60, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "push_subscription"
        unique_together = (("person", "endpoint"),)
        indexes = (Index(fields=("person_id", "created_at")),)
