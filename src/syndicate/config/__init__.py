"""Typed settings from ``syndicate.toml`` and ``feeds/*.toml``.

One precedence rule: CLI flag → environment ``SYNDICATE_<SECTION>__<KEY>`` → TOML →
default. Lists (such as ``sources``) are overridden whole, as JSON, in the environment.
Secrets are never required in the TOML: each secret key also reads ``<key>_file`` and
the environment. Relative paths resolve against the folder of the config file.

A bad file raises :class:`~syndicate.errors.ConfigError` whose problems name the file
(or environment variable), the key, what was expected and what was found.

Takes ``syndicate.toml``, ``feeds/*.toml`` and the environment; gives typed, frozen
:class:`Settings` and :class:`ChannelConfig` values. One module per group of sections:

* :mod:`.site`, :mod:`.delivery`, :mod:`.webhooks`, :mod:`.service`, :mod:`.related`,
  :mod:`.doctor` —
  the sections;
* :mod:`.settings` — :class:`Settings` (every section, ``[[sources]]``, precedence);
* :mod:`.loader` — find, parse and validate the file, and describe what is wrong;
* :mod:`.channels` — :class:`ChannelConfig` and :func:`load_channels`.
"""

from syndicate.config.base import CONFIG_ENV, CONFIG_FILENAME, ENV_PREFIX, Section
from syndicate.config.channels import ChannelConfig, ChannelFilters, DigestSettings, load_channels
from syndicate.config.console import ConsoleSettings
from syndicate.config.delivery import CelerySettings, DeliverySettings, DispatchSettings
from syndicate.config.doctor import DoctorSettings
from syndicate.config.guards import BreakerSettings, WarmupSettings
from syndicate.config.loader import describe_errors, find_config, load_settings, read_toml
from syndicate.config.related import RelatedSettings
from syndicate.config.service import SchedulerSettings, SubscribeSettings
from syndicate.config.settings import (
    Settings,
    SourceConfig,
    read_secret,
    resolve_sqlite_url,
    split_sqlite_url,
)
from syndicate.config.site import (
    FetchSettings,
    OutputSettings,
    SecuritySettings,
    SiteSettings,
    StoreSettings,
    StorySettings,
)
from syndicate.config.webhooks import (
    MailgunWebhookSettings,
    PostmarkWebhookSettings,
    SendGridWebhookSettings,
    SESWebhookSettings,
    WebhookSettings,
)

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILENAME",
    "ENV_PREFIX",
    "BreakerSettings",
    "CelerySettings",
    "ChannelConfig",
    "ChannelFilters",
    "ConsoleSettings",
    "DeliverySettings",
    "DigestSettings",
    "DispatchSettings",
    "DoctorSettings",
    "FetchSettings",
    "MailgunWebhookSettings",
    "OutputSettings",
    "PostmarkWebhookSettings",
    "RelatedSettings",
    "SESWebhookSettings",
    "SchedulerSettings",
    "Section",
    "SecuritySettings",
    "SendGridWebhookSettings",
    "Settings",
    "SiteSettings",
    "SourceConfig",
    "StoreSettings",
    "StorySettings",
    "SubscribeSettings",
    "WarmupSettings",
    "WebhookSettings",
    "describe_errors",
    "find_config",
    "load_channels",
    "load_settings",
    "read_secret",
    "read_toml",
    "resolve_sqlite_url",
    "split_sqlite_url",
]
