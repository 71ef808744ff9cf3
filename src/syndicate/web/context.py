"""What every area of the web app shares."""

from __future__ import annotations

from dataclasses import dataclass

from syndicate.config import Settings
from syndicate.web.published import PublishedFiles


@dataclass(frozen=True)
class WebContext:
    """The settings and the published files, handed to each area's ``routes()``."""

    settings: Settings
    files: PublishedFiles
