"""The contract every source kind implements.

A source is built from its ``[[sources]]`` entry and a :class:`SourceContext`, and
answers :meth:`Source.fetch` with a :class:`~syndicate.models.FetchResult`. Kinds
implement only ``fetch``; :meth:`Source.read` wraps it so that no exception escapes a
source: whatever goes wrong becomes the result's ``error``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from syndicate.config import FetchSettings, SiteSettings, SourceConfig
from syndicate.errors import SourceError
from syndicate.models import FetchResult, SourceState, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceContext:
    """What a source may know of the instance: site, fetch limits, base folder, clock."""

    site: SiteSettings
    fetch: FetchSettings
    base_dir: Path
    clock: Callable[[], datetime] = utc_now


class NoOptions(BaseModel):
    """Options model of a kind that takes no keys of its own."""

    model_config = ConfigDict(extra="forbid")


class Source(ABC):
    """A place articles come from. Subclasses set ``Options`` and implement ``fetch``."""

    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, config: SourceConfig, context: SourceContext) -> None:
        self.config = config
        self.name = config.name
        self.context = context
        self.options = self.Options.model_validate(config.options)

    @abstractmethod
    def fetch(self, state: SourceState) -> FetchResult:
        """Read new and changed articles.

        ``state`` is what the store remembers (validators, ``extra``). Returns entries
        and warnings for items skipped; sets ``error`` (or raises a
        :class:`SourceError`) when the source as a whole cannot be read.
        """

    def read(self, state: SourceState) -> FetchResult:
        """:meth:`fetch`, with every failure turned into ``FetchResult.error``."""
        try:
            result = self.fetch(state)
        except SourceError as err:
            err.source = err.source or self.name
            return FetchResult(error=err)
        except Exception as err:  # a bug or an unforeseen input must not stop the run
            log.exception("source %s failed unexpectedly", self.name)
            wrapped = SourceError(f"unexpected {type(err).__name__}: {err}", source=self.name)
            wrapped.__cause__ = err
            return FetchResult(error=wrapped)
        if result.error is not None and not result.error.source:
            result.error.source = self.name
        return result
