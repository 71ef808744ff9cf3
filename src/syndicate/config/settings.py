"""The whole ``syndicate.toml``: every section, ``[[sources]]``, and the precedence rule."""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import (
    ConfigDict,
    Field,
    SecretStr,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from syndicate.config.base import ENV_PREFIX, NAME_PATTERN, Section
from syndicate.config.console import ConsoleSettings
from syndicate.config.delivery import CelerySettings, DeliverySettings, DispatchSettings
from syndicate.config.doctor import DoctorSettings
from syndicate.config.related import RelatedSettings
from syndicate.config.service import SchedulerSettings, SubscribeSettings
from syndicate.config.site import (
    FetchSettings,
    OutputSettings,
    SecuritySettings,
    SiteSettings,
    StoreSettings,
    StorySettings,
)
from syndicate.config.webhooks import WebhookSettings
from syndicate.errors import ConfigError


class SourceConfig(Section):
    """One ``[[sources]]`` entry. Keys other than these belong to the source kind."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(pattern=NAME_PATTERN, description="Unique name; part of every article id.")
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
    related: bool | None = Field(
        None,
        description=(
            'Whether its articles may be "More from" picks; unset: yes for a folder '
            "source (your own articles), no for feed and page sources (someone else's)."
        ),
    )

    own: bool | None = Field(
        None,
        description=(
            "Whether its articles are the publisher's own: of one story from several "
            "sources, an edition carries the own one. Unset: yes for a folder source."
        ),
    )

    @property
    def is_own(self) -> bool:
        """``own`` as set, else the kind's default: only a content folder is ours."""
        return self.own if self.own is not None else self.kind == "folder"

    @property
    def related_allowed(self) -> bool:
        """``related`` as set, else the kind's default: only a content folder is ours."""
        return self.related if self.related is not None else self.kind == "folder"

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
    stories: StorySettings = StorySettings()
    security: SecuritySettings = SecuritySettings()
    delivery: DeliverySettings = DeliverySettings()
    dispatch: DispatchSettings = DispatchSettings()
    celery: CelerySettings = CelerySettings()
    webhooks: WebhookSettings = WebhookSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    subscribe: SubscribeSettings = SubscribeSettings()
    related: RelatedSettings = RelatedSettings()
    doctor: DoctorSettings = DoctorSettings()
    console: ConsoleSettings = ConsoleSettings()
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

    def own_sources(self) -> frozenset[str]:
        """Names of the configured sources that carry the publisher's own articles."""
        return frozenset(src.name for src in self.sources if src.is_own)

    def not_related_sources(self) -> frozenset[str]:
        """Names of the configured sources whose articles are never "More from" picks."""
        return frozenset(src.name for src in self.sources if not src.related_allowed)

    def source(self, name: str) -> SourceConfig:
        """The source called ``name``; ConfigError if there is none."""
        for src in self.sources:
            if src.name == name:
                return src
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"no source named {name!r} (configured: {known})")


# The parsed TOML of the file being loaded; set by the loader around Settings().
TOML_DATA: ContextVar[dict[str, Any] | None] = ContextVar("toml_data", default=None)


class _TomlSource(PydanticBaseSettingsSource):
    """The parsed TOML of the file being loaded (set by :func:`load_settings`)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (TOML_DATA.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(TOML_DATA.get() or {})


def resolve_sqlite_url(url: str, base_dir: Path) -> str:
    """Make a relative ``sqlite:///path`` (or ``sqlite:///file:path?query``) absolute
    against ``base_dir``."""
    parts = split_sqlite_url(url)
    if parts is None:
        return url
    lead, path, query = parts
    if path.is_absolute():
        return url
    return f"sqlite:///{lead}{(base_dir / path).resolve()}{query}"


def split_sqlite_url(url: str) -> tuple[str, Path, str] | None:
    """A SQLite file URL as (``"file:"`` or ``""``, the database path, ``"?query"`` or
    ``""``); ``None`` for other databases and in-memory ones."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    rest = url[len(prefix) :]
    lead = "file:" if rest.startswith("file:") else ""
    rest = rest[len(lead) :]
    rest, mark, tail = rest.partition("?")  # SQLAlchemy reads "?..." as URL parameters
    query = mark + tail
    if rest in ("", ":memory:") or "mode=memory" in query:
        return None
    return lead, Path(rest), query


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
