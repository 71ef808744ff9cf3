"""Subscribers: the roster, the sign-up flow and the tokens in every link.

Takes CSV files, form submissions and signed links; gives subscriber rows in the store,
confirmation mails (built and signed by :mod:`syndicate.delivery`, whose
:mod:`~syndicate.delivery.tokens` also mints every link's token) and the decisions the
public pages show. No web framework here: :mod:`syndicate.web` is the thin shell.

* :mod:`.roster` — normalised addresses, CSV import and export;
* :mod:`.signup` — sign-up, double opt-in, confirmation and preference changes.
"""

from typing import TYPE_CHECKING

from syndicate.plugins import lazy_exports

if TYPE_CHECKING:
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

# Each name is imported on first use (see syndicate.plugins.lazy_exports).
__getattr__ = lazy_exports(
    __name__,
    {
        "ImportReport": "roster",
        "InvalidForm": "signup",
        "InvalidRow": "roster",
        "Signups": "signup",
        "check_timezone": "roster",
        "export_rows": "roster",
        "import_csv": "roster",
        "normalise_email": "roster",
        "parse_preferences": "signup",
        "parse_signup": "signup",
        "read_csv": "roster",
    },
)

__all__ = [
    "ImportReport",
    "InvalidForm",
    "InvalidRow",
    "Signups",
    "check_timezone",
    "export_rows",
    "import_csv",
    "normalise_email",
    "parse_preferences",
    "parse_signup",
    "read_csv",
]
