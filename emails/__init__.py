"""Newsletters: edition rendering, personalisation, MIME, transports, the send ledger."""
