"""Every setting of the portal, read once from the environment."""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.config import Config, Environ, environ

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("fr", "nl", "en")
# The push services of the browsers people use: the only hosts the portal posts notices to.
PUSH_SERVICES = (
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "*.push.apple.com",
    "*.notify.windows.com",
)


class SettingsError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def _secret_from_file(path: Path) -> str:
    """Read the development secret kept under var/, making it on first use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    debug: bool = False
    var_dir: Path = ROOT / "var"
    database_url: str = ""
    secret_key: str = ""
    journal_key: str = ""
    master_key: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = ""
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    inactive_days: int = 90
    # How long an ended dossier is kept before it is erased (apply-retention); 0: never.
    retention_days: int = 365
    # Backups: each is sealed with a key of its own, kept here and deleted after this many
    # days, which makes the backup unreadable for good (python -m portal backup).
    backup_retention_days: int = 30
    backup_keys_dir: Path = ROOT / "var" / "backup-keys"
    quick_exit_url: str = "https://www.meteo.be/fr/belgique"
    default_language: str = "fr"
    response_days: int = 3
    # A young person's message is answered within this many working days, or it is late.
    reply_target_days: int = 2
    # How often an open dossier asks whether something is new (the header's count: twice as
    # long). Short in the browser tests.
    live_seconds: int = 15
    # Documents (a photo or a PDF) added to a dossier: the largest file, and how many a dossier
    # may hold. The upload routes alone take a body this large.
    document_max_bytes: int = 10 * 1024 * 1024
    documents_per_dossier: int = 20
    host: str = "localhost"
    port: int = 8000
    workers: int = 1
    redis_url: str = ""
    rp_id: str = "localhost"
    rp_name: str = "Portail AMO"
    origin: str = "http://localhost:8000"
    https: bool = False
    log_level: str = "info"
    # Web Push: the server's P-256 key (VAPID), raw and base64url; empty, push is off.
    vapid_private_key: str = ""
    vapid_subject: str = ""
    push_allowed_hosts: tuple[str, ...] = PUSH_SERVICES
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(env: Environ | None = None) -> Settings:
    """Build the settings from the environment; refuse to start production without secrets."""
    config = Config(environ=env if env is not None else environ)
    portal_env = config("PORTAL_ENV", default="development")
    if portal_env not in {"development", "production", "test"}:
        raise SettingsError(
            f"PORTAL_ENV must be development, production or test, not {portal_env!r}."
        )
    var_dir = Path(config("PORTAL_VAR_DIR", default=str(ROOT / "var")))
    production = portal_env == "production"

    secret_key = config("SECRET_KEY", default="")
    if not secret_key:
        if production:
            raise SettingsError(
                "SECRET_KEY is required when PORTAL_ENV=production. "
                "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        secret_key = _secret_from_file(var_dir / "secret_key")
    elif len(secret_key) < 32:
        raise SettingsError("SECRET_KEY must be at least 32 characters long.")

    journal_key = config("JOURNAL_KEY", default="")
    if not journal_key:
        if production:
            raise SettingsError(
                "JOURNAL_KEY is required when PORTAL_ENV=production: it signs every journal "
                "entry. Keep it apart from the database backups."
            )
        journal_key = _secret_from_file(var_dir / "journal_key")

    master_key = config("MASTER_KEY", default="")
    if not master_key:
        if production:
            raise SettingsError(
                "MASTER_KEY is required when PORTAL_ENV=production: it wraps every dossier's "
                "key. Generate one with: python -m portal new-master-key"
            )
        path = var_dir / "master_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new_master_key(), encoding="utf-8")
            path.chmod(0o600)
        master_key = path.read_text(encoding="utf-8").strip()
    try:
        parse_master_key(master_key)
    except ValueError as error:
        raise SettingsError("MASTER_KEY must be 32 random bytes in base64.") from error

    vapid_private_key = config("VAPID_PRIVATE_KEY", default="")
    if not vapid_private_key and not production:
        path = var_dir / "vapid_private_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new_vapid_key(), encoding="utf-8")
            path.chmod(0o600)
        vapid_private_key = path.read_text(encoding="utf-8").strip()
    if vapid_private_key:
        try:
            application_server_key(vapid_private_key)
        except ValueError as error:
            raise SettingsError(
                "VAPID_PRIVATE_KEY must be a P-256 private key, 32 bytes in base64url. "
                "Generate one with: python -m portal new-vapid-key"
            ) from error

    database_url = config("DATABASE_URL", default="")
    if not database_url:
        if production:
            raise SettingsError(
                "DATABASE_URL is required when PORTAL_ENV=production "
                "(for example postgres://portal@db.internal:5432/portal)."
            )
        var_dir.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite://{var_dir / 'portal.sqlite3'}"

    try:
        retention_days = config("RETENTION_DAYS", cast=int, default=365)
    except ValueError:
        retention_days = -1
    if retention_days < 0:
        raise SettingsError("RETENTION_DAYS must be a number of days, or 0 to keep forever.")

    try:
        backup_retention_days = config("BACKUP_RETENTION_DAYS", cast=int, default=30)
    except ValueError:
        backup_retention_days = 0
    if not 1 <= backup_retention_days <= 3650:
        raise SettingsError(
            "BACKUP_RETENTION_DAYS must be a number of days between 1 and 3650: after it, "
            "a backup's key is deleted and the backup can no longer be read."
        )

    default_language = config("DEFAULT_LANGUAGE", default="fr")
    if default_language not in LANGUAGES:
        raise SettingsError(f"DEFAULT_LANGUAGE must be one of {', '.join(LANGUAGES)}.")

    quick_exit_url = config("QUICK_EXIT_URL", default="https://www.meteo.be/fr/belgique")
    if not quick_exit_url.startswith("https://"):
        raise SettingsError("QUICK_EXIT_URL must be an https:// address of a neutral site.")

    host = config("HOST", default="localhost")
    port = config("PORT", cast=int, default=8000)
    rp_id = config("WEBAUTHN_RP_ID", default=host)
    origin = config(
        "WEBAUTHN_ORIGIN",
        default=f"https://{rp_id}" if production else f"http://{rp_id}:{port}",
    )
    if production and not origin.startswith("https://"):
        raise SettingsError("WEBAUTHN_ORIGIN must be an https:// address in production.")

    vapid_subject = config("VAPID_SUBJECT", default=f"mailto:portail@{host}")
    if not vapid_subject.startswith("mailto:") or "@" not in vapid_subject:
        raise SettingsError(
            "VAPID_SUBJECT must be a mailto: address where push services can reach the "
            "installation's operator, like mailto:portail@aide.example.be."
        )
    push_allowed_hosts = tuple(
        host.strip().lower()
        for host in config("PUSH_ALLOWED_HOSTS", default=",".join(PUSH_SERVICES)).split(",")
        if host.strip()
    )

    return Settings(
        env=portal_env,
        debug=config("DEBUG", cast=bool, default=False),
        var_dir=var_dir,
        database_url=database_url,
        secret_key=secret_key,
        journal_key=journal_key,
        master_key=master_key,
        smtp_host=config("SMTP_HOST", default=""),
        smtp_port=config("SMTP_PORT", cast=int, default=25),
        smtp_from=config("SMTP_FROM", default=f"portail@{host}"),
        smtp_username=config("SMTP_USERNAME", default=""),
        smtp_password=config("SMTP_PASSWORD", default=""),
        smtp_starttls=config("SMTP_STARTTLS", cast=bool, default=False),
        inactive_days=config("INACTIVE_DAYS", cast=int, default=90),
        retention_days=retention_days,
        backup_retention_days=backup_retention_days,
        backup_keys_dir=Path(config("BACKUP_KEYS_DIR", default=str(var_dir / "backup-keys"))),
        quick_exit_url=quick_exit_url,
        default_language=default_language,
        response_days=config("RESPONSE_DAYS", cast=int, default=3),
        reply_target_days=config("REPLY_TARGET_DAYS", cast=int, default=2),
        live_seconds=max(1, config("LIVE_SECONDS", cast=int, default=15)),
        document_max_bytes=config("DOCUMENT_MAX_BYTES", cast=int, default=10 * 1024 * 1024),
        documents_per_dossier=config("DOCUMENTS_PER_DOSSIER", cast=int, default=20),
        host=host,
        port=port,
        rp_id=rp_id,
        rp_name=config("WEBAUTHN_RP_NAME", default="Portail AMO"),
        origin=origin,
        workers=config("WEB_CONCURRENCY", cast=int, default=0),
        redis_url=config("REDIS_URL", default=""),
        https=config("HTTPS", cast=bool, default=production),
        log_level=config("LOG_LEVEL", default="info"),
        vapid_private_key=vapid_private_key,
        vapid_subject=vapid_subject,
        push_allowed_hosts=push_allowed_hosts,
    )


def parse_master_key(value: str) -> bytes:
    """A master key as written in settings: 32 bytes, base64 (urlsafe or standard)."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError) as error:
        raise ValueError("MASTER_KEY must be 32 bytes in base64") from error
    if len(raw) != 32:
        raise ValueError("MASTER_KEY must be 32 bytes in base64")
    return raw


def new_master_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def new_vapid_key() -> str:
    """A new P-256 private key for Web Push (VAPID): its 32 raw bytes, base64url."""
    secret = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    return base64.urlsafe_b64encode(secret.to_bytes(32, "big")).decode().rstrip("=")


def vapid_private_key(value: str) -> ec.EllipticCurvePrivateKey:
    """The VAPID key as written in settings (raw, base64url); ValueError if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError) as error:
        raise ValueError("not base64url") from error
    if len(raw) != 32:
        raise ValueError("a P-256 private key is 32 bytes")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def application_server_key(value: str) -> str:
    """The public half in the form browsers ask for (an uncompressed point, base64url)."""
    point = (
        vapid_private_key(value)
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return base64.urlsafe_b64encode(point).decode().rstrip("=")
