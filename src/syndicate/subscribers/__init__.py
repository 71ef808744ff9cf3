"""Subscribers: the roster, the sign-up flow, imports, consent and a person's data.

Takes CSV files (ours and other tools' exports), form submissions and signed links;
gives subscriber rows in the store, confirmation mails (built and signed by
:mod:`syndicate.delivery`, whose :mod:`~syndicate.delivery.tokens` also mints every
link's token) and the decisions the public pages show. No web framework here:
:mod:`syndicate.web` is the thin shell.

* :mod:`.roster` — normalised addresses, our CSV import and export;
* :mod:`.importers` — other tools' exports, one module per format, and
  :mod:`.importers.apply`, which runs an import (or a dry run);
* :mod:`.suppressions` — providers' suppression exports;
* :mod:`.consent` — consent records (form, import, operator);
* :mod:`.privacy` — a person's data: export, erasure and its confirmation mail;
* :mod:`.sunset` — cleaning addresses that only bounce and sign-ups never confirmed;
* :mod:`.signup` — sign-up, double opt-in, confirmation and preference changes.
"""

from typing import TYPE_CHECKING

from syndicate.plugins import lazy_exports

if TYPE_CHECKING:
    from syndicate.subscribers.importers.apply import ImportOptions, run_import
    from syndicate.subscribers.privacy import erase, export_data
    from syndicate.subscribers.roster import (
        ImportReport,
        InvalidRow,
        check_timezone,
        export_rows,
        import_csv,
        normalise_email,
        read_csv,
    )
    from syndicate.subscribers.signup import InvalidForm, Signups, parse_preferences, parse_signup
    from syndicate.subscribers.sunset import sunset
    from syndicate.subscribers.suppressions import import_suppressions

# Each name is imported on first use (see syndicate.plugins.lazy_exports).
__getattr__ = lazy_exports(
    __name__,
    {
        "ImportOptions": "importers.apply",
        "ImportReport": "roster",
        "InvalidForm": "signup",
        "InvalidRow": "roster",
        "Signups": "signup",
        "check_timezone": "roster",
        "erase": "privacy",
        "export_data": "privacy",
        "export_rows": "roster",
        "import_csv": "roster",
        "import_suppressions": "suppressions",
        "normalise_email": "roster",
        "parse_preferences": "signup",
        "parse_signup": "signup",
        "read_csv": "roster",
        "run_import": "importers.apply",
        "sunset": "sunset",
    },
)

__all__ = [
    "ImportOptions",
    "ImportReport",
    "InvalidForm",
    "InvalidRow",
    "Signups",
    "check_timezone",
    "erase",
    "export_data",
    "export_rows",
    "import_csv",
    "import_suppressions",
    "normalise_email",
    "parse_preferences",
    "parse_signup",
    "read_csv",
    "run_import",
    "sunset",
]
