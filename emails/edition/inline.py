"""CSS inlining, once per edition: premailer, or css-inline when configured.

Both backends sit behind :func:`inline`. ``<style data-keep>`` blocks (media
queries, dark mode, Outlook.com's ``[data-ogsc]`` rules) are taken out before
the inliner runs and put back after, untouched: those rules only work from a
``<style>`` block, and premailer crashes on ``@media`` nested inside
``@media (prefers-color-scheme: …)`` (upstream #290), so it never sees them.

premailer runs with the network off (no external stylesheet is fetched);
its cssutils logger, which warns once per element about ``mso-`` and ``-ms-``
properties, is silenced.
"""

from __future__ import annotations

import logging
import re
from typing import Literal

from broadsheet.errors import RenderError

Backend = Literal["premailer", "css-inline"]

_KEEP = re.compile(r"<style\b[^>]*\bdata-keep\b[^>]*>.*?</style>", re.DOTALL | re.IGNORECASE)
_SLOT = "<!--broadsheet-kept-style-{}-->"


def _quiet_cssutils() -> None:
    logging.getLogger("CSSUTILS").setLevel(logging.CRITICAL)


def _premailer(html: str) -> str:
    import premailer

    _quiet_cssutils()
    try:
        engine = premailer.Premailer(
            html,
            allow_network=False,
            allow_loading_external_files=False,
            disable_validation=True,
            disable_link_rewrites=True,
            keep_style_tags=False,
            remove_classes=False,
            strip_important=False,
            # The templates set every presentational attribute Outlook needs;
            # copying CSS into more of them ("100%", or bgcolor on <body>)
            # makes invalid or obsolete HTML, and css-inline adds none.
            disable_basic_attributes=["width", "height", "bgcolor", "valign"],
            cssutils_logging_level=logging.CRITICAL,
        )
        result: str = engine.transform(pretty_print=False)
    except Exception as exc:  # premailer raises bare exceptions from cssutils and lxml
        raise RenderError(f"premailer could not inline the edition's CSS: {exc!r}") from exc
    return result


def _css_inline(html: str) -> str:
    try:
        import css_inline
    except ImportError:
        raise RenderError(
            "emails.inliner is 'css-inline' but the package is not installed: "
            "pip install 'broadsheet[fast]'"
        ) from None
    try:
        inliner = css_inline.CSSInliner(
            load_remote_stylesheets=False, keep_style_tags=False, keep_link_tags=False
        )
        result: str = inliner.inline(html)
    except Exception as exc:  # css_inline.InlineError and ValueError
        raise RenderError(f"css-inline could not inline the edition's CSS: {exc}") from exc
    return result


def inline(html: str, *, backend: Backend = "premailer") -> str:
    """``html`` with its CSS moved into ``style`` attributes.

    Args:
        html: a complete document; ``<style>`` blocks are inlined and removed,
            ``<style data-keep>`` blocks stay in the head as they are.
        backend: ``premailer`` or ``css-inline`` (``emails.inliner``).

    Raises:
        RenderError: the inliner failed or is not installed.
    """
    kept: list[str] = []

    def hold(match: re.Match[str]) -> str:
        kept.append(re.sub(r"\s+data-keep\b", "", match.group(0), count=1))
        return _SLOT.format(len(kept) - 1)

    protected = _KEEP.sub(hold, html)
    if backend == "premailer":
        done = _premailer(protected)
    elif backend == "css-inline":
        done = _css_inline(protected)
    else:
        raise RenderError(f"emails.inliner: unknown backend {backend!r}")
    for index, block in enumerate(kept):
        slot = _SLOT.format(index)
        if slot not in done:
            raise RenderError(f"the {backend} inliner dropped a kept <style> block")
        done = done.replace(slot, block, 1)
    return done
