"""The fixed vocabularies command options offer, for ``--help`` without loading their stage.

click needs an option's choices when the command is declared, and the command modules
are imported to show their own help; the real vocabularies live beside the store's
schema, the import formats and the doctor's checks, which load SQLAlchemy and more.
These copies are what ``--help`` shows; tests/test_startup.py checks each against the
one it copies, so they cannot drift apart.
"""

from __future__ import annotations

CADENCES = ("edition", "daily", "weekly")
"""``syndicate.store.delivery_schema.CADENCES``."""
SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained")
"""``syndicate.store.delivery_schema.SUBSCRIBER_STATUSES``."""
ROLES = ("editor", "admin")
"""``syndicate.store.operators.ROLES``."""
IMPORT_FORMATS = ("csv", "substack", "ghost", "mailchimp", "buttondown", "listmonk")
"""The keys of ``syndicate.subscribers.importers.apply.FORMATS``."""
DOCTOR_GROUPS = ("dns", "unsubscribe", "feeds", "edition", "warmup")
"""``syndicate.doctor.GROUPS``."""
