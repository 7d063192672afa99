"""Web Push: the devices a person asked to be told on, and the neutral push sent to each.

The server posts to whatever address a browser gives as its subscription's endpoint, so only
``https://`` addresses of the browsers' push services are accepted (``PUSH_ALLOWED_HOSTS``):
anything else could make the portal post into its own network. A push carries one neutral
sentence, encrypted to the browser's keys; never the service, a name, a count or a link.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from tortoise.transactions import in_transaction

from portal.domain.accounts import require_whole_account
from portal.domain.errors import Invalid, NotFound
from portal.domain.forms import acting_once
from portal.i18n import _, lazy, use_language
from portal.models import Person, PushSubscription, Role
from portal.settings import Settings, application_server_key, vapid_private_key

log = logging.getLogger("portal.push")

# A person may be told on a few phones and computers; more is a script, not a person.
MAX_DEVICES = 10
MAX_ENDPOINT = 1024
# A push waits this long at the push service for a phone that is off; after that, the person
# will see the news on the portal anyway.
TTL_SECONDS = 12 * 3600
TIMEOUT_SECONDS = 20
# Only the people the notices tell (models: who gets news) may ask for pushes.
TOLD = frozenset({Role.YOUTH, Role.RELATIVE, Role.WORKER})


class PushGone(Exception):
    """The push service says this subscription no longer exists (404 or 410)."""


class PushFailed(Exception):
    """The push did not go this time (the service away, refused, slow): try again later."""


def may_be_told(person: Person) -> bool:
    return person.role in TOLD


def neutral_text(person: Person) -> str:
    """The whole of what a push says, in the person's language."""
    with use_language(person.language):
        if person.is_subject:
            return _("You have something new.")
        return _("There is something new for you.")


# --- Checking what a browser sends ----------------------------------------------------------------


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``host`` is one of the push services (``*.example.com`` allows its subdomains)."""
    for pattern in allowed:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def check_endpoint(settings: Settings, endpoint: str) -> str:
    refused = Invalid("endpoint", lazy("This browser's push service is not one we can use."))
    if not endpoint or len(endpoint) > MAX_ENDPOINT or not endpoint.isascii():
        raise refused
    if any(c.isspace() or ord(c) < 32 for c in endpoint):
        raise refused
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError as error:
        raise refused from error
    host = (parts.hostname or "").lower()
    if parts.username is not None or parts.password is not None or not host:
        raise refused
    if parts.scheme == "https" and port in (None, 443):
        if host_allowed(host, settings.push_allowed_hosts):
            return endpoint
        raise refused
    # The suite's own push service, on this machine, over http: in tests only, and only when
    # named with its port in the allowed hosts.
    if (
        settings.env == "test"
        and parts.scheme == "http"
        and host == "127.0.0.1"
        and f"http://{host}:{port}" in settings.push_allowed_hosts
    ):
        return endpoint
    raise refused


BAD_KEYS = lazy("This browser's keys for notifications are not valid.")


def _b64url(value: str, field: str, size: int) -> str:
    refused = Invalid(field, BAD_KEYS)
    if not value or len(value) > 100 or not value.isascii():
        raise refused
    bare = value.rstrip("=")
    if any(not (c.isalnum() or c in "-_") for c in bare):
        raise refused
    try:
        raw = base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    except (ValueError, binascii.Error) as error:
        raise refused from error
    if len(raw) != size:
        raise refused
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def check_keys(p256dh: str, auth: str) -> tuple[str, str]:
    """The browser's public key (an uncompressed P-256 point) and its 16-byte auth secret."""
    point = _b64url(p256dh, "p256dh", 65)
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), base64.urlsafe_b64decode(point + "=" * (-len(point) % 4))
        )
    except ValueError as error:
        raise Invalid(
            "p256dh", lazy("This browser's keys for notifications are not valid.")
        ) from error
    return point, _b64url(auth, "auth", 16)


# --- The person's devices -------------------------------------------------------------------------


def public_key(settings: Settings) -> str:
    """What the browser subscribes with (applicationServerKey); empty when push is off."""
    if not settings.vapid_private_key:
        return ""
    return application_server_key(settings.vapid_private_key)


async def subscribe(
    settings: Settings, person: Person, endpoint: str, p256dh: str, auth: str, label: str
) -> PushSubscription:
    """Tell this person on this device from now on. The same device again is one device."""
    if not settings.vapid_private_key or not may_be_told(person):
        raise NotFound("no push for this person")
    # A session opened by a recovery link reaches one dossier: being told of all is not its own.
    require_whole_account(person)
    endpoint = check_endpoint(settings, endpoint)
    point, secret = check_keys(p256dh, auth)
    async with in_transaction():
        await Person.select_for_update().filter(id=person.id).first()
        existing = await PushSubscription.get_or_none(person_id=person.id, endpoint=endpoint)
        if existing is not None:
            existing.p256dh, existing.auth = point, secret
            await existing.save(update_fields=["p256dh", "auth"])
            return existing
        if await PushSubscription.filter(person_id=person.id).count() >= MAX_DEVICES:
            raise Invalid(
                "endpoint",
                lazy("You already get notifications on 10 devices. Remove one first."),
            )
        return await PushSubscription.create(
            person_id=person.id, endpoint=endpoint, p256dh=point, auth=secret, label=label[:60]
        )


async def devices(person: Person) -> list[PushSubscription]:
    return await PushSubscription.filter(person_id=person.id).order_by("created_at", "id")


async def unsubscribe(person: Person, endpoint: str) -> None:
    """This device stops being told (the browser has dropped its subscription already)."""
    await PushSubscription.filter(person_id=person.id, endpoint=endpoint[:MAX_ENDPOINT]).delete()


async def remove_device(person: Person, device_id: int, *, form_key: str | None = None) -> None:
    """Stop telling one of the person's devices; someone else's, or none, is not found."""
    async with acting_once(form_key):
        removed = await PushSubscription.filter(id=device_id, person_id=person.id).delete()
        if not removed:
            raise NotFound("no such device")


async def forget_devices(person_id: int) -> None:
    """An account deleted or deactivated is told nothing any more, on any device."""
    await PushSubscription.filter(person_id=person_id).delete()


# --- Sending --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pusher:
    """The portal's Web Push sender, with its VAPID key, as the settings name it."""

    private_key: str
    subject: str

    @classmethod
    def of(cls, settings: Settings) -> Pusher | None:
        if not settings.vapid_private_key:
            return None
        return cls(private_key=settings.vapid_private_key, subject=settings.vapid_subject)

    async def deliver(self, subscription: PushSubscription, text: str) -> None:
        """Post the encrypted text to the subscription's push service.

        Raises ``PushGone`` when the service no longer knows it, ``PushFailed`` otherwise.
        """
        import aiohttp
        from py_vapid import Vapid
        from pywebpush import WebPushException, webpush_async

        info: dict[str, Any] = {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
        # A redirect is never followed: it could lead anywhere, past the allowed hosts.
        refuse_redirects = aiohttp.TraceConfig()
        refuse_redirects.on_request_redirect.append(_refuse_redirect)
        try:
            async with aiohttp.ClientSession(trace_configs=[refuse_redirects]) as session:
                await webpush_async(
                    info,
                    text,
                    vapid_private_key=Vapid(vapid_private_key(self.private_key)),
                    # A new dict each time: the library writes the audience and expiry into it.
                    vapid_claims={"sub": self.subject},
                    ttl=TTL_SECONDS,
                    headers={"Urgency": "normal"},
                    timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
                    aiohttp_session=session,
                )
        except WebPushException as error:
            if error.status_code in (404, 410):
                raise PushGone from error
            raise PushFailed(f"status {error.status_code}") from error
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise PushFailed(type(error).__name__) from error


async def _refuse_redirect(*_: object) -> None:
    raise PushFailed("the push service answered with a redirect")
