"""What every area of the web app shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from syndicate.config import Settings
from syndicate.web.published import PublishedFiles

if TYPE_CHECKING:
    from syndicate.web.lean import LeanFiles


@dataclass(frozen=True)
class WebContext:
    """The settings and the published files, handed to each area's ``routes()``.

    ``lean`` is the in-memory table of ready answers for the published files (the app's
    and the feed routes' one), when the app made one.
    """

    settings: Settings
    files: PublishedFiles
    lean: LeanFiles | None = None
