"""Running the app: uvicorn, set up the way ``broadsheet serve`` needs it."""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp


def run(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    forwarded_allow_ips: str,
    root_path: str = "",
) -> None:
    """Serve ``app`` on ``host:port`` until interrupted.

    Args:
        app: the ASGI app (:func:`broadsheet.web.app.create_app`).
        host: the address to listen on.
        port: the port to listen on.
        forwarded_allow_ips: proxies trusted to set X-Forwarded-For/-Proto.
        root_path: the path prefix a reverse proxy serves the app under.
    """
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        root_path=root_path,
        server_header=False,
        log_level="info",
    )
