"""An instance with one channel whose editions are composed from stored articles, and
helpers to sign readers up and send what the outbox holds (welcome tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from syndicate.config import ChannelConfig, Settings, load_channels, load_settings
from syndicate.delivery.compose import EditionMessages
from syndicate.delivery.dispatch import Dispatcher, DispatchReport
from syndicate.delivery.registry import make_backend
from syndicate.delivery.tokens import TokenClaims, TokenSigner
from syndicate.models import Subscription
from syndicate.store import Store
from syndicate.store.signups import SignupStore
from syndicate.subscribers import Signups
from syndicate.testing import FixedClock

SECRET = "welcome-test-secret-0123456789"
SLOT = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)  # the channel's latest edition
NOW = SLOT + timedelta(hours=3)  # when readers confirm


def write_instance(
    folder: Path, smtp_port: int, digest: str = "", dispatch: str = "", store_url: str = ""
) -> tuple[Settings, ChannelConfig]:
    """A config (SMTP backend on ``smtp_port``; the store at ``store_url``, by default
    ``var/syndicate.db``) with the daily channel ``world``."""
    (folder / "feeds").mkdir(parents=True)
    (folder / "var").mkdir()
    (folder / "feeds" / "world.toml").write_text(
        'title = "The World Gazette"\n[filters]\nsections = ["World", "Arts"]\n'
        '[digest]\nschedule = "0 7 * * *"\nfirst_lookback_hours = 400.0\nmax_items = 4\n' + digest,
        encoding="utf-8",
    )
    config = folder / "syndicate.toml"
    config.write_text(
        '[site]\nname = "The Test Gazette"\nbase_url = "https://news.example"\n'
        'tag_authority = "news.example,2026"\npostal_address = "1 Quay Street"\n'
        f'[security]\nsecret_key = "{SECRET}"\n'
        '[delivery]\nbackend = "smtp"\nfrom_email = "digest@news.example"\n'
        f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n' + dispatch,
        encoding="utf-8",
    )
    settings = load_settings(config)
    (world,) = load_channels(settings)
    return settings, world


def sign_up(
    signups: Signups, email: str, now: datetime = NOW, sections: tuple[str, ...] = ()
) -> TokenClaims:
    """Ask for ``world`` as ``email``; the claims of the confirmation link."""
    done = SignupStore(signups.store).request(
        email, name="", subscription=Subscription("world", "daily", sections), consent={}, now=now
    )
    assert done.pending is not None
    token = TokenSigner(SECRET).make("confirm", done.pending.subscriber_id, "world")
    return signups.claims(token, "confirm")


def signups_for(store: Store, settings: Settings, world: ChannelConfig) -> Signups:
    return Signups(store, settings, [world], TokenSigner(SECRET))


def dispatch(
    store: Store, settings: Settings, world: ChannelConfig, at: datetime
) -> DispatchReport:
    """Send every due delivery through the configured (SMTP) backend at ``at``."""
    messages = EditionMessages(store, settings, {"world": world})
    return Dispatcher(
        store, make_backend(settings), messages, settings.dispatch, clock=FixedClock(at)
    ).run()
