"""The shipped gettext catalogs, read once per language.

The catalogs are ``locale/LANG/LC_MESSAGES/broadsheet.po`` beside this
module. They are read with Babel and compiled in memory into the standard
library's :class:`gettext.GNUTranslations` the first time a language is
asked for, so there is no ``.mo`` file to build or keep in step: the ``.po``
a translator edits is what runs. The cache holds immutable catalogs of the
package only; a publication's own words never enter it.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

from broadsheet.errors import BroadsheetError

if TYPE_CHECKING:
    # Babel is imported where a catalog or a locale is first asked for:
    # commands that render no words (an import, a no-op feed build) need none of it.
    from babel import Locale

DOMAIN: Final = "broadsheet"
"""The gettext domain: the catalogs' file name."""

LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
"""``locale/LANG/LC_MESSAGES/broadsheet.po`` and the template ``broadsheet.pot``."""

SOURCE_LANGUAGE: Final = "en"
"""The language of the ``msgid`` texts, and the words of a language without a catalog."""


class CatalogError(BroadsheetError):
    """A shipped catalog cannot be read."""


def base_language(language: str | None) -> str:
    """``pt-BR`` -> ``pt``: the part of a language code the catalogs are named by."""
    return (language or SOURCE_LANGUAGE).split("-")[0].lower()


def po_path(language: str) -> Path:
    """Where the catalog of ``language`` is (whether or not it exists)."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def languages() -> frozenset[str]:
    """The languages broadsheet ships a catalog for."""
    return frozenset(
        folder.name for folder in LOCALE_DIR.iterdir() if po_path(folder.name).is_file()
    )


def has_catalog(language: str | None) -> bool:
    """Whether ``language`` (``ru``, ``ru-RU``) has a shipped catalog."""
    return base_language(language) in languages()


@cache
def translations(language: str) -> gettext.GNUTranslations:
    """The compiled catalog of ``language`` (a base code with a catalog).

    Untranslated and fuzzy messages are left out, so gettext answers them
    with the English ``msgid``.

    Raises:
        CatalogError: there is no catalog for ``language``, or it is not a valid PO file.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    path = po_path(language)
    try:
        with path.open("rb") as po:
            catalog = read_po(po, locale=language, domain=DOMAIN, abort_invalid=True)
    except FileNotFoundError:
        raise CatalogError(f"{path}: no catalog for language {language!r}") from None
    except Exception as exc:  # Babel's PoFileError, or a bad Plural-Forms header
        raise CatalogError(f"{path}: cannot read the catalog: {exc}") from exc
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def for_language(language: str | None) -> gettext.GNUTranslations:
    """The catalog of ``language``, or the English one when it has none."""
    code = base_language(language)
    return translations(code if code in languages() else SOURCE_LANGUAGE)


@cache
def locale(language: str) -> Locale:
    """The Babel locale of ``language`` (English when Babel does not know it)."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(SOURCE_LANGUAGE)
