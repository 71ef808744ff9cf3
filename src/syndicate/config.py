"""Typed settings from ``syndicate.toml`` and ``feeds/*.toml``.

One precedence rule: CLI flag → environment ``SYNDICATE_<SECTION>__<KEY>`` → TOML →
default. Lists (such as ``sources``) are overridden whole, as JSON, in the environment.
Secrets are never required in the TOML: each secret key also reads ``<key>_file`` and
the environment. Relative paths resolve against the folder of the config file.

A bad file raises :class:`~syndicate.errors.ConfigError` whose problems name the file
(or environment variable), the key, what was expected and what was found.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from syndicate.errors import ConfigError

CONFIG_FILENAME = "syndicate.toml"
CONFIG_ENV = "SYNDICATE_CONFIG"
ENV_PREFIX = "SYNDICATE_"

_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteSettings(_Section):
    """The publication: its name, home, postal address and the authority of its ids."""

    name: str = Field("My Publication", description="Publication name, used in feeds and mail.")
    base_url: str = Field(
        "http://localhost:8080",
        description="Public base URL; relative links in articles resolve against it.",
    )
    postal_address: str = Field("", description="Physical address printed in email footers.")
    language: str = Field("en", description="Default language (BCP 47) of feeds and digests.")
    tag_authority: str = Field(
        "syndicate.invalid,2026",
        description=(
            "Authority and date of the tag: URIs that identify articles (RFC 4151), "
            "e.g. 'example.org,2026'. Set once; changing it changes every id."
        ),
    )

    @field_validator("base_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not re.match(r"^https?://[^/]+", value):
            raise ValueError("an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator("tag_authority")
    @classmethod
    def _authority(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9.-]+(@[A-Za-z0-9.-]+)?,\d{4}(-\d{2}(-\d{2})?)?$", value):
            raise ValueError("'domain,YYYY' or 'domain,YYYY-MM-DD' (RFC 4151)")
        return value.lower()


class StoreSettings(_Section):
    """Where articles, subscribers and the outbox live."""

    url: str = Field(
        "sqlite:///var/syndicate.db",
        description="SQLAlchemy URL; sqlite:/// paths are relative to the config file.",
    )


class OutputSettings(_Section):
    """Where built files (feeds, archives) are written."""

    dir: Path = Field(Path("public"), description="Output folder for built feeds.")


class FetchSettings(_Section):
    """Limits for every HTTP fetch of a source (SE-5)."""

    connect_timeout: float = Field(5.0, gt=0, description="Seconds to connect.")
    read_timeout: float = Field(15.0, gt=0, description="Seconds to wait for the next bytes.")
    total_timeout: float = Field(30.0, gt=0, description="Seconds for a whole fetch.")
    max_bytes: int = Field(10_000_000, gt=0, description="Largest body accepted (bytes).")
    max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed per fetch.")
    concurrency: int = Field(8, ge=1, le=64, description="Sources fetched at the same time.")
    user_agent: str = Field(
        "syndicate/0.1 (+https://github.com/syndicate-rss/syndicate)",
        description="User-Agent sent with every request.",
    )


class SecuritySettings(_Section):
    """Secrets: read from the environment or a file, never required in the TOML."""

    secret_key: SecretStr | None = Field(
        None, description="Signing key for links (env SYNDICATE_SECURITY__SECRET_KEY)."
    )
    secret_key_file: Path | None = Field(None, description="File holding the signing key.")


class DeliverySettings(_Section):
    """How digests leave: the backend and its outbox."""

    model_config = ConfigDict(extra="allow", frozen=True)

    backend: str = Field("file", description="Delivery backend name (file, smtp, ...).")
    outbox_dir: Path = Field(Path("var/outbox"), description="Folder for the file backend.")
    from_email: str = Field("digest@localhost", description="From address of digests.")
    from_name: str = Field("", description="From display name; empty for site.name.")
    reply_to: str = Field("", description="Reply-To address; empty for none.")
    message_id_domain: str = Field(
        "", description="Right-hand side of Message-IDs; empty for from_email's domain."
    )
    list_id_domain: str = Field(
        "", description="Domain of List-Id (<channel>.<domain>); empty for from_email's."
    )
    unsubscribe_mailto: str = Field(
        "", description="Address for mailto: unsubscribe (LU-1); empty for none."
    )
    feedback_id: str = Field("", description="Feedback-ID header value; empty for none.")
    dkim_domain: str = Field("", description="DKIM d= domain; empty turns signing off.")
    dkim_selector: str = Field("syndicate", description="DKIM selector (s=).")
    dkim_key: SecretStr | None = Field(
        None, description="PEM private key (env SYNDICATE_DELIVERY__DKIM_KEY)."
    )
    dkim_key_file: Path | None = Field(None, description="File holding the PEM private key.")

    @property
    def sending_domain(self) -> str:
        """The domain of ``from_email``."""
        return self.from_email.rpartition("@")[2] or "localhost"


class DispatchSettings(_Section):
    """How the outbox is worked through (STYLE 6: limits are settings)."""

    batch_size: int = Field(100, ge=1, le=10_000, description="Deliveries claimed at once.")
    lease_seconds: float = Field(
        300.0, gt=0, description="How long a claim lasts before another sender may retry it."
    )
    min_backoff: float = Field(300.0, gt=0, description="First retry delay (s) after a defer.")
    max_backoff: float = Field(4000.0, gt=0, description="Longest retry delay (s).")
    max_age_hours: float = Field(
        120.0, gt=0, description="Give up on a deferred delivery this old (RFC 5321: 4-5 days)."
    )
    pause_after_policy_failures: int = Field(
        5, ge=1, description="Pause a channel after this many policy rejections in a row."
    )
    queue: Literal["inline", "celery"] = Field(
        "inline",
        description="inline: send in this process; celery: publish tasks for the workers.",
    )


class CelerySettings(_Section):
    """Celery workers (``[dispatch] queue = "celery"``; the ``scale`` extra)."""

    broker_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Broker: a redis:// or amqp:// URL."
    )
    queue_name: str = Field("syndicate", description="Queue the tasks go to.")
    key_prefix: str = Field(
        "syndicate:", description="Prefix of every Redis key (broker and rate limit)."
    )
    pool: Literal["prefork", "threads", "solo"] = Field(
        "prefork", description="Worker pool: processes, threads, or one task at a time."
    )
    concurrency: int = Field(0, ge=0, le=256, description="Tasks at once; 0 = CPU count.")
    prefetch_multiplier: int = Field(
        1, ge=1, description="Unacknowledged tasks a worker holds per slot."
    )
    visibility_timeout: float = Field(
        3600.0, gt=0, description="Redis: a task unacknowledged this long is redelivered."
    )
    reservation_seconds: float = Field(
        3600.0, gt=0, description="How long published rows wait for their task."
    )
    max_retries: int = Field(
        10, ge=0, description="Retries of a task after broker or database errors."
    )
    retry_backoff_max: float = Field(
        300.0, gt=0, description="Longest wait (s) between retries of a task."
    )
    rate_limiter: Literal["auto", "redis", "store"] = Field(
        "auto", description="Where the shared rate limit lives: Redis or the store."
    )
    rate_limit_url: str = Field("", description="Redis URL of the rate limit; empty: broker's.")


class _WebhookProvider(_Section):
    """Keys every provider's webhook table takes."""

    max_age_seconds: float = Field(
        600.0,
        gt=0,
        description="Reject a signed timestamp further than this from now (replays, SE-7).",
    )


class PostmarkWebhookSettings(_WebhookProvider):
    """``[webhooks.postmark]``: Postmark signs nothing; it sends basic-auth credentials
    and custom headers that we configure in its webhook settings (STANDARDS PV-2)."""

    username: str = Field("", description="HTTP basic-auth user name; empty for none.")
    password: SecretStr | None = Field(None, description="HTTP basic-auth password.")
    password_file: Path | None = Field(None, description="File holding the password.")
    token: SecretStr | None = Field(
        None, description="Shared secret expected in the X-Webhook-Token header."
    )
    token_file: Path | None = Field(None, description="File holding the token.")


class SendGridWebhookSettings(_WebhookProvider):
    """``[webhooks.sendgrid]``: the Signed Event Webhook's verification key (PV-3)."""

    public_key: SecretStr | None = Field(
        None, description="Verification key: base64 DER as SendGrid shows it, or PEM."
    )
    public_key_file: Path | None = Field(None, description="File holding the key.")


class MailgunWebhookSettings(_WebhookProvider):
    """``[webhooks.mailgun]``: the HTTP webhook signing key (PV-4)."""

    signing_key: SecretStr | None = Field(None, description="Webhook signing key.")
    signing_key_file: Path | None = Field(None, description="File holding the key.")


class SESWebhookSettings(_WebhookProvider):
    """``[webhooks.ses]``: SES events through an SNS topic (PV-5)."""

    max_age_seconds: float = Field(
        86400.0,
        gt=0,
        description="Reject an SNS message published longer ago than this (SNS retries).",
    )
    topic_arns: tuple[str, ...] = Field(
        (), description="SNS topics whose messages are accepted; empty accepts none."
    )
    cert_scheme: Literal["https", "http"] = Field(
        "https", description="Scheme of SigningCertURL; http only to a loopback host (tests)."
    )
    cert_host_pattern: str = Field(
        r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?",
        description="Regular expression the SigningCertURL host must match in full.",
    )

    @field_validator("cert_host_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"a regular expression ({err})") from err
        return value


class WebhookSettings(_Section):
    """Provider webhooks for bounces and complaints (``/webhooks/<provider>``)."""

    max_body_bytes: int = Field(
        5_000_000, gt=0, description="Largest webhook request body accepted (bytes)."
    )
    postmark: PostmarkWebhookSettings = PostmarkWebhookSettings()
    sendgrid: SendGridWebhookSettings = SendGridWebhookSettings()
    mailgun: MailgunWebhookSettings = MailgunWebhookSettings()
    ses: SESWebhookSettings = SESWebhookSettings()


class SchedulerSettings(_Section):
    """The daemon (``syndicate run``): how often it looks, and how it stops."""

    tick_seconds: float = Field(
        30.0, gt=0, le=3600, description="How often due digests, sources and sends are checked."
    )
    poll_jitter: float = Field(
        0.1, ge=0, le=1, description="Random extra wait on each source's poll (fraction)."
    )
    shutdown_seconds: float = Field(
        60.0, gt=0, description="On SIGTERM, longest wait for the work in flight to finish."
    )
    lock_path: Path | None = Field(
        None, description="Scheduler lock file for SQLite stores; default: beside the DB."
    )


class SubscribeSettings(_Section):
    """The subscriber pages: limits against list bombing (SE-6) and form lifetimes.

    The counters live in the memory of the one ``syndicate serve`` process.
    """

    per_client: int = Field(
        10, ge=1, description="Subscribe requests one client address may make per window."
    )
    per_client_window: float = Field(
        3600.0, gt=0, description="Seconds over which per_client is counted."
    )
    per_email: int = Field(
        3, ge=1, description="Confirmation requests for one email address per window."
    )
    per_email_window: float = Field(
        86400.0, gt=0, description="Seconds over which per_email is counted."
    )
    form_max_age: float = Field(
        7200.0, gt=0, description="Seconds a form's CSRF token stays valid."
    )


class SourceConfig(_Section):
    """One ``[[sources]]`` entry. Keys other than these belong to the source kind."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(pattern=_NAME, description="Unique name; part of every article id.")
    kind: str = Field(description="Source kind: folder, feed, page, or a plugin's name.")
    enabled: bool = True
    poll_interval: float = Field(900.0, gt=0, description="Seconds between polls.")
    section: str = Field("", description="Section given to articles that name none.")
    allow_private: bool = Field(
        False, description="Allow hosts that resolve to non-public addresses (SE-5)."
    )
    allow_networks: tuple[str, ...] = Field(
        (), description="CIDR blocks allowed even though they are not public."
    )

    @property
    def options(self) -> dict[str, Any]:
        """The kind-specific keys, as written."""
        return dict(self.model_extra or {})


class Settings(BaseSettings):
    """The whole of ``syndicate.toml`` after environment overrides."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    site: SiteSettings = SiteSettings()
    store: StoreSettings = StoreSettings()
    output: OutputSettings = OutputSettings()
    fetch: FetchSettings = FetchSettings()
    security: SecuritySettings = SecuritySettings()
    delivery: DeliverySettings = DeliverySettings()
    dispatch: DispatchSettings = DispatchSettings()
    celery: CelerySettings = CelerySettings()
    webhooks: WebhookSettings = WebhookSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    subscribe: SubscribeSettings = SubscribeSettings()
    sources: tuple[SourceConfig, ...] = ()
    feeds_dir: Path = Field(Path("feeds"), description="Folder of channel definitions.")
    templates_dir: Path = Field(Path("templates"), description="Instance template overrides.")
    base_dir: Path = Field(Path("."), description="Folder of the config file (set by loader).")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence (STYLE 11): CLI flags (init kwargs) → environment → TOML → defaults.
        return (init_settings, env_settings, _TomlSource(settings_cls))

    def resolve(self, path: Path) -> Path:
        """An absolute path: ``path`` as given, or relative to the config folder."""
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def store_url(self) -> str:
        """The store URL with a relative SQLite path resolved against ``base_dir``."""
        return resolve_sqlite_url(self.store.url, self.base_dir)

    def secret_key(self) -> str | None:
        """The signing key from the environment/TOML, or from ``secret_key_file``."""
        return read_secret(self.security.secret_key, self.security.secret_key_file, self)

    def source(self, name: str) -> SourceConfig:
        """The source called ``name``; ConfigError if there is none."""
        for src in self.sources:
            if src.name == name:
                return src
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"no source named {name!r} (configured: {known})")


_TOML_DATA: ContextVar[dict[str, Any] | None] = ContextVar("toml_data", default=None)


class _TomlSource(PydanticBaseSettingsSource):
    """The parsed TOML of the file being loaded (set by :func:`load_settings`)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_TOML_DATA.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_TOML_DATA.get() or {})


def resolve_sqlite_url(url: str, base_dir: Path) -> str:
    """Make a relative ``sqlite:///path`` absolute against ``base_dir``."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url in (prefix, "sqlite:///:memory:"):
        return url
    path = Path(url[len(prefix) :])
    if path.is_absolute():
        return url
    return prefix + str((base_dir / path).resolve())


def read_secret(value: SecretStr | None, file: Path | None, settings: Settings) -> str | None:
    """A secret from its value, or else from the file that holds it (trailing newline cut)."""
    if value is not None:
        return value.get_secret_value()
    if file is not None:
        try:
            return settings.resolve(file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as err:
            raise ConfigError(f"cannot read secret file {file}: {err.strerror}") from err
    return None


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file: ``--config``, else ``$SYNDICATE_CONFIG``, else ``./syndicate.toml``."""
    if explicit:
        path = Path(explicit)
        origin = "--config"
    elif os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
        origin = CONFIG_ENV
    else:
        path = Path.cwd() / CONFIG_FILENAME
        origin = "the working directory"
    if not path.is_file():
        raise ConfigError(
            f"{path}: no config file (looked here because of {origin}); "
            f"pass --config PATH or set {CONFIG_ENV}"
        )
    return path.resolve()


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error names the file, line and column."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML", [f"{path}: {err}"]) from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from err


def load_settings(path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Load and validate the settings.

    ``path`` is the config file (found with :func:`find_config` when ``None``);
    ``overrides`` are CLI flags as a nested dict, applied last. Source kinds validate their
    own keys here too, so a typo in any ``[[sources]]`` entry is found at load time.
    """
    path = find_config(path)
    data = read_toml(path)
    data["base_dir"] = path.parent
    token = _TOML_DATA.set(data)
    try:
        settings = Settings(**dict(overrides or {}))
    except ValidationError as err:
        raise ConfigError(f"{path}: invalid configuration", describe_errors(err, path)) from err
    finally:
        _TOML_DATA.reset(token)
    _check_sources(settings, path)
    return settings


def describe_errors(err: ValidationError, path: Path, prefix: str = "") -> list[str]:
    """One line per problem: where it came from, the key, expected and found."""
    lines = []
    for problem in err.errors():
        loc = [str(p) for p in problem["loc"]]
        key = prefix + _dotted(loc)
        env_name = ENV_PREFIX + "__".join(p.upper() for p in loc if not p.isdigit())
        where = f"environment {env_name}" if env_name in os.environ and not prefix else str(path)
        expected = _expected(problem)
        if problem["type"] == "missing":
            lines.append(f"{where}: key '{key}': required, expected {expected}, found nothing")
        elif problem["type"] == "extra_forbidden":
            lines.append(f"{where}: key '{key}': unknown key (found {problem['input']!r})")
        else:
            found = problem.get("input")
            lines.append(f"{where}: key '{key}': expected {expected}, found {found!r}")
    return lines


def _dotted(loc: list[str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def _expected(problem: Mapping[str, Any]) -> str:
    msg = str(problem.get("msg", ""))
    for lead in ("Value error, ", "Input should be "):
        if msg.startswith(lead):
            return msg[len(lead) :]
    return msg[:1].lower() + msg[1:]


def _check_sources(settings: Settings, path: Path) -> None:
    # Imported here: the registry imports source modules, which import this one.
    from syndicate.sources.registry import UnknownSourceKind, options_model

    problems: list[str] = []
    seen: set[str] = set()
    for index, src in enumerate(settings.sources):
        where = f"sources[{index}]"
        if src.name in seen:
            problems.append(f"{path}: key '{where}.name': duplicate source name {src.name!r}")
        seen.add(src.name)
        try:
            model = options_model(src.kind)
        except UnknownSourceKind as err:
            problems.append(f"{path}: key '{where}.kind': expected {err.known}, found {src.kind!r}")
            continue
        try:
            model.model_validate(src.options)
        except ValidationError as err:
            problems.extend(describe_errors(err, path, prefix=where + "."))
    if problems:
        raise ConfigError(f"{path}: invalid configuration", problems)


# --- channels (feeds/*.toml) -------------------------------------------------------------


class ChannelFilters(_Section):
    """Which articles a channel carries; an empty list means 'any'."""

    sections: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()


def _is_cron(value: str) -> bool:
    from croniter import croniter  # only the digest needs it

    return len(value.split()) == 5 and bool(croniter.is_valid(value))


class DigestSettings(_Section):
    """The email digest of a channel (used by the digest and daemon issues)."""

    enabled: bool = True
    schedule: str = Field(
        "0 7 * * *", description="Cron expression, or 'on_new' for an edition per new article."
    )
    timezone: str = Field("UTC", description="IANA timezone the schedule is read in.")
    template: str = Field("digest", description="Template name in templates/.")
    subject: str = Field("", description="Subject template; empty for the default.")
    max_items: int = Field(10, ge=1)
    min_items: int = Field(1, ge=1)
    first_lookback_hours: float = Field(24.0, gt=0)
    max_lateness_hours: float = Field(
        6.0, gt=0, description="A slot missed by more than this is skipped, never sent late."
    )
    min_interval_minutes: float = Field(
        60.0, ge=0, description="on_new: at most one edition per this many minutes."
    )
    daily_rollup: str = Field(
        "0 7 * * *",
        description="When daily subscribers of a more-than-daily channel get their round-up "
        "(cron, in the channel's timezone); empty for none.",
    )
    weekly_rollup: str = Field(
        "0 7 * * 1",
        description="When weekly subscribers of a more-than-weekly channel get their round-up "
        "(cron, in the channel's timezone); empty for none.",
    )
    preheader: str = Field("", description="Preheader template; empty for the default.")
    related_k: int = Field(4, ge=0, le=12, description="'More from' items; 0 turns it off.")
    related_pool: Literal["channel", "site"] = Field(
        "site", description="Related items come from the whole site or the channel's archive."
    )
    exclude_last_editions: int = Field(
        3, ge=0, description="Never repeat an item sent in this many previous editions."
    )
    max_html_bytes: int = Field(
        92160, ge=1024, description="Rendering fails above this HTML size (Gmail clips ~102 KB)."
    )
    utm_source: str = Field("", description="utm_source on article links; empty for none.")
    utm_medium: str = Field("email", description="utm_medium, used when utm_source is set.")
    utm_campaign: str = Field(
        "{channel}-{date}", description="utm_campaign; {channel} and {date} are filled in."
    )

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if value != "on_new" and not _is_cron(value):
            raise ValueError("'on_new' or a five-field cron expression such as '0 7 * * *'")
        return value

    @field_validator("daily_rollup", "weekly_rollup")
    @classmethod
    def _rollup(cls, value: str) -> str:
        if value and not _is_cron(value):
            raise ValueError("a five-field cron expression such as '0 7 * * 1', or ''")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError("an IANA timezone such as 'Europe/London'") from err
        return value


class ChannelConfig(_Section):
    """One channel: a feed and its digest, from ``feeds/<name>.toml``."""

    name: str = Field(pattern=_NAME, description="URL slug; the file name stem.")
    title: str
    description: str = ""
    language: str | None = None
    link: str | None = None
    logo: str | None = None
    icon: str | None = None
    filters: ChannelFilters = ChannelFilters()
    items: int = Field(20, ge=1, le=500, description="Items in the subscription feed.")
    content: Literal["full", "summary"] = "full"
    formats: tuple[Literal["rss", "atom", "json"], ...] = ("rss", "atom", "json")
    hubs: tuple[str, ...] = ()
    max_age: int = Field(900, ge=0, description="Cache-Control max-age for the feed (s).")
    archives: bool = Field(True, description="Write RFC 5005 archive documents (pages of items).")
    archive_max_age: int = Field(
        604800, ge=0, description="Cache-Control max-age for archive documents (s)."
    )
    related_in_content: bool = False
    digest: DigestSettings = DigestSettings()


def load_channels(settings: Settings) -> list[ChannelConfig]:
    """Every channel in ``feeds_dir``, sorted by name; all problems reported at once."""
    folder = settings.resolve(settings.feeds_dir)
    if not folder.is_dir():
        return []
    channels: list[ChannelConfig] = []
    problems: list[str] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            data = read_toml(path)
        except ConfigError as err:
            problems.extend(err.problems)
            continue
        data.setdefault("name", path.stem)
        try:
            channel = ChannelConfig(**data)
        except ValidationError as err:
            problems.extend(describe_errors(err, path))
            continue
        if channel.name != path.stem:
            problems.append(
                f"{path}: key 'name': expected the file name {path.stem!r}, found {channel.name!r}"
            )
            continue
        channels.append(channel)
    if problems:
        raise ConfigError(f"{folder}: invalid channel definitions", problems)
    return channels
