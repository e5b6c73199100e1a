"""``broadsheet init``: a new publication with a commented configuration."""

from __future__ import annotations

from pathlib import Path

from broadsheet.errors import BroadsheetError

CONFIG = """\
# broadsheet configuration. Every key and its default: docs/configuration.md

[site]
title = "My Magazine"
url = "https://magazine.example"
languages = ["en"]
timezone = "UTC"
# article_url = "{site_url}/{language}/{id}/"
# logo = "/images/logo.png"

[store]
url = "sqlite:///broadsheet.db"

# [feeds]
# out = "public/feeds"
# items = 50

[newsletters.daily]
send_time = "07:00"

[newsletters.weekly]
send_time = "08:00"
weekday = "monday"

[donation.en]
heading = "Support independent journalism"
text = "Everything we publish is free to read. If it helps you, please help keep it that way."
button_label = "Donate"
url = "https://magazine.example/donate/"

[emails]
# The templates in theme/ replace blocks of the built-in ones (docs/newsletters.md, Themes).
theme = "theme/"

[delivery]
transport = "maildir"
maildir = "outbox"

[sender]
name = "My Magazine"
email = "newsletter@magazine.example"
postal_address = "1 Example Street, Example City"
"""

ARTICLE = """\
---
title: Hello, readers
standfirst: The first article of a new publication.
authors: [The Editors]
section: News
tags: [Announcements]
language: en
published: 2026-01-01T09:00:00+00:00
---
Write the body in **Markdown**. Relative links such as [the home page](/) become absolute.
"""

THEME_EDITION = """\
{#- An example theme. This file takes the place of the built-in edition
    template (emails/edition.html.j2), extends it under the name
    "builtin:emails/edition.html.j2" and replaces only its donation block:
    the masthead, the articles and the footer stay the built-in ones.

    Other blocks to replace the same way: style, masthead, personal,
    lead_card, card (one article, as `item`), read_also, top_reads, footer;
    emails/edition.txt.j2 (the plain-text twin) has masthead, card,
    donation and footer. A theme may read only what the built-in
    templates are given (here donation.heading, donation.text,
    donation.button_label, donation.url and accent; the block is rendered
    once per wording, and a thank-you to a donor has no button_label);
    an error in a theme
    is reported with its file and line when the configuration loads.
    Delete this file, or the [emails] theme key, to get the built-in
    appeal back. docs/newsletters.md, "Themes", says more. -#}
{% extends "builtin:emails/edition.html.j2" %}
{% block donation %}
<tr>
<td class="pad">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">
<tr>
<td class="donation" style="border-left:0; border-top:6px solid {{ accent }}; text-align:center;">
<h2 class="donation-heading">{{ donation.heading }}</h2>
<p class="para">{{ donation.text }}</p>
{% if donation.button_label %}
{{ m.button(donation.url, donation.button_label, accent) }}
{% endif %}
</td>
</tr>
</table>
</td>
</tr>
{% endblock %}
"""


def create_skeleton(directory: Path) -> list[Path]:
    """Write a configuration, one article, an example theme and empty CSV files into ``directory``.

    Raises:
        BroadsheetError: when ``directory`` already holds a broadsheet.toml.
    """
    config = directory / "broadsheet.toml"
    if config.exists():
        raise BroadsheetError(f"{config}: already exists; not overwriting it")
    try:
        (directory / "content").mkdir(parents=True, exist_ok=True)
        (directory / "theme" / "emails").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BroadsheetError(f"{directory}: cannot create it: {exc.strerror or exc}") from None
    files = {
        config: CONFIG,
        directory / "content" / "hello-readers.md": ARTICLE,
        directory / "theme" / "emails" / "edition.html.j2": THEME_EDITION,
        directory / "subscribers.csv": "email,name,language,frequency,topics\n",
        directory / "views.csv": "article,date,views\n",
    }
    written = []
    for path, text in files.items():
        if not path.exists():
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
