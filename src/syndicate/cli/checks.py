"""Everything a send needs, checked before any work: the delivery backend and its
``[delivery.<backend>]`` table, the DKIM key, and the digest templates.

``config check`` reports all of it; ``digest send`` checks the sending part before it
composes or queues anything, so a typo in the backend table never leaves an edition
queued for a backend that cannot be built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import jinja2

from syndicate.config import ChannelConfig, Settings
from syndicate.errors import ConfigError


def _problems(check: Callable[[], object]) -> list[str]:
    try:
        check()
    except ConfigError as err:
        head = str(err).splitlines()[0]
        return list(err.problems) or [head]
    return []


def sending_problems(settings: Settings) -> list[str]:
    """What stops mail from leaving: the backend (name, table, secrets) and the DKIM key."""
    from syndicate.delivery import make_backend  # delivery stack: load on use
    from syndicate.delivery.compose import dkim_signer

    domain = settings.delivery.dkim_domain
    dkim = [f"DKIM signing for {domain}: {p}" for p in _problems(lambda: dkim_signer(settings))]
    return _problems(lambda: make_backend(settings)) + dkim


def check_sending(settings: Settings) -> None:
    """Raise a ConfigError listing every problem of :func:`sending_problems`."""
    problems = sending_problems(settings)
    if problems:
        raise ConfigError(
            f"cannot send with [delivery] backend {settings.delivery.backend!r}", problems
        )


def template_problems(settings: Settings, channels: Iterable[ChannelConfig]) -> list[str]:
    """Digest templates (files and the subject/preheader lines) that do not compile."""
    from syndicate.digest import DigestTemplates  # the composing stack: load on use

    templates = DigestTemplates(settings)
    problems: list[str] = []
    names: set[str] = set()
    for channel in channels:
        if not channel.digest.enabled:
            continue
        for name in (f"{channel.digest.template}.mjml.j2", f"{channel.digest.template}.txt.j2"):
            if name not in names:
                names.add(name)
                problems.extend(_compile(templates.env, name, templates.path(name)))
        where = settings.resolve(settings.feeds_dir) / f"{channel.name}.toml"
        for key in ("subject", "preheader"):
            source = getattr(channel.digest, key)
            try:
                templates.env.parse(source)
            except jinja2.TemplateSyntaxError as err:
                problems.append(f"{where}: key 'digest.{key}': syntax error: {err.message}")
    return problems


def _compile(env: jinja2.Environment, name: str, path: str) -> list[str]:
    try:
        env.get_template(name)
    except jinja2.TemplateNotFound:
        return [f"{path}: template not found"]
    except jinja2.TemplateSyntaxError as err:
        return [f"{err.filename or path}:{err.lineno}: syntax error: {err.message}"]
    return []
