"""Other tools' subscriber exports → rows this instance can import.

One module per format (``--from NAME``; the table is
:data:`~syndicate.subscribers.importers.apply.FORMATS`): :mod:`.generic` (our CSV),
:mod:`.substack`, :mod:`.ghost`, :mod:`.mailchimp`, :mod:`.buttondown`,
:mod:`.listmonk`. Each has ``REQUIRED`` (the columns a file must have; ``a|b`` for
either) and ``parse(record) -> ImportedRow``, raising
:class:`~syndicate.subscribers.roster.InvalidRow` for a bad row. :mod:`.rows` holds the
row and the value readers they share; :mod:`.apply` runs an import.
"""
