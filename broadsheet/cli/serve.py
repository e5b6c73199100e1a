"""``broadsheet serve``: subscription pages, feeds and the web archive over HTTP."""

from __future__ import annotations

import click

from broadsheet.cli.common import config_option, handle_errors, load, open_store


def _limit(_ctx: click.Context, param: click.Parameter, value: str) -> object:
    from broadsheet.web.app import RateLimit

    try:
        return RateLimit.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--subscribe-limit",
    default="10/hour",
    show_default=True,
    callback=_limit,
    help=(
        "Subscription requests allowed per client (COUNT/second|minute|hour|day); "
        "a client is an IPv6 /64 or an IPv4 address (links.client_ipv6_prefix, "
        "links.client_ipv4_prefix)."
    ),
)
@click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1",
    show_default=True,
    help="Proxies trusted to set X-Forwarded-For/-Proto (comma-separated, or '*').",
)
@click.option(
    "--root-path",
    default="",
    help="Path prefix the reverse proxy serves this under (e.g. /newsletter).",
)
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a client may take to send a request's line and headers (then 408, closed).",
)
@click.option(
    "--body-timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a client may take to send a request's body after its headers.",
)
@config_option
@handle_errors
def serve(
    host: str,
    port: int,
    subscribe_limit: object,
    forwarded_allow_ips: str,
    root_path: str,
    header_timeout: float,
    body_timeout: float,
    config_path: str,
) -> None:
    """Serve subscribe/confirm/unsubscribe/preferences pages, /feeds/ and /editions/."""
    from broadsheet.web.app import RateLimit, create_app
    from broadsheet.web.server import run

    settings = load(config_path)
    store = open_store(settings)
    assert isinstance(subscribe_limit, RateLimit)
    app = create_app(settings, store, subscribe_limit=subscribe_limit)
    click.echo(
        f"serving {settings.site.title} on http://{host}:{port}{root_path}/ "
        f"(public URL {settings.links_url}/)",
        err=True,
    )
    run(
        app,
        host=host,
        port=port,
        forwarded_allow_ips=forwarded_allow_ips,
        root_path=root_path,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
    )
