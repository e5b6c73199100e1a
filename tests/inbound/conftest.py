"""Inbound fixtures: the delivery room's recording SMTP server, reused."""

from tests.delivery.conftest import smtp_server

__all__ = ["smtp_server"]
