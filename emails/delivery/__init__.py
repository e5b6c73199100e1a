"""Delivery: the send ledger's use, transports (Maildir, SMTP), worker processes."""
