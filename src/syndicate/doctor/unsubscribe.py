"""The live one-click unsubscribe (RFC 8058, STANDARDS LU-2/LU-3): POST what a mailbox
provider posts to the public unsubscribe URL of a probe token, and expect a 200.

The probe token is signed with the instance's key like every real link, for subscriber
``PROBE_SUBSCRIBER_ID`` of channel ``PROBE_CHANNEL``, which no subscription can have; the
web app answers it like a real one-click POST and changes nothing
(:mod:`syndicate.web.unsubscribe`).
"""

from __future__ import annotations

from syndicate.config import Settings
from syndicate.delivery.compose import token_signer
from syndicate.delivery.tokens import PROBE_CHANNEL, PROBE_SUBSCRIBER_ID
from syndicate.doctor.fetch import Fetcher, NoAnswer
from syndicate.doctor.results import CheckResult, failed, passed, unchecked, warned

ONE_CLICK_BODY = b"List-Unsubscribe=One-Click"


def probe_url(settings: Settings, base_url: str) -> str:
    """The unsubscribe URL of the probe token under ``base_url``."""
    token = token_signer(settings).make("unsubscribe", PROBE_SUBSCRIBER_ID, PROBE_CHANNEL)
    return f"{base_url}/u/{token}"


def one_click_check(settings: Settings, fetcher: Fetcher, base_url: str) -> CheckResult:
    """POST ``List-Unsubscribe=One-Click`` as Gmail does: no cookie, no redirect followed."""
    url = probe_url(settings, base_url)
    target = f"{base_url}/u/<probe>"
    try:
        answer = fetcher.request(
            "POST",
            url,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            data=ONE_CLICK_BODY,
            follow=False,
        )
    except NoAnswer as err:
        return unchecked("unsubscribe.one_click", target, f"{err}", "Is the web app running?")
    status = answer.status
    if 300 <= status < 400:
        return failed(
            "unsubscribe.one_click",
            target,
            f"{status} redirect to {answer.headers.get('location', '?')}: RFC 8058 needs a "
            "direct 2xx",
            "Serve /u/ from syndicate serve directly; a proxy must not redirect POSTs "
            "(e.g. http→https or adding a slash): set site.base_url to the final URL.",
        )
    if status == 400:
        return failed(
            "unsubscribe.one_click",
            target,
            "400: the site does not accept this instance's links",
            "Give the web app the same security.secret_key as the sender, so the links "
            "in the mail verify.",
        )
    if status == 202:
        return warned(
            "unsubscribe.one_click",
            target,
            "202: accepted but queued; the web app cannot reach the store",
            "Check the store the web app uses ([store] url) and its logs.",
        )
    if status != 200:
        return failed(
            "unsubscribe.one_click",
            target,
            f"{status}: mailbox providers take this as a failed unsubscribe",
            "Route POST /u/<token> to syndicate serve, with no login, captcha or bot "
            "check in front of it.",
        )
    if not settings.site.base_url.startswith("https://"):
        return warned(
            "unsubscribe.one_click",
            target,
            "200, but site.base_url is not https: RFC 8058 one-click needs an HTTPS link",
            "Serve the site over HTTPS and set site.base_url to the https:// URL.",
        )
    return passed("unsubscribe.one_click", target, "200 to the one-click POST (RFC 8058)")
