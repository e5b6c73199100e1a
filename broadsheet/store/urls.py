"""Store URLs: which are accepted, and the driver each one is opened with."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

BACKENDS = ("sqlite", "postgresql")
"""The databases broadsheet stores into."""


def check_url(url: str) -> str | None:
    """What is wrong with ``url`` as ``store.url``, or ``None`` when it will do.

    Only the form is checked (a database URL of a supported backend); whether
    the database answers is found out when the store is opened.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"not a database URL: {url!r}"
    if parsed.get_backend_name() not in BACKENDS:
        return f"expected sqlite:/// or postgresql://, got {url!r}"
    return None


def normalise_url(url: str) -> str:
    """The SQLAlchemy URL with the drivers broadsheet ships with.

    Raises:
        sqlalchemy.exc.ArgumentError: when ``url`` is not a database URL.
    """
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        # SQLAlchemy's default PostgreSQL driver is psycopg2; ours is psycopg 3.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)
