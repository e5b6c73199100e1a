"""The English source of every built-in word, marked for ``pybabel extract``.

Each word is a message of the ``broadsheet`` gettext domain whose context
(``msgctxt``) is ``GROUP.KEY``: ``newsletter.lead`` is the key ``lead`` a
publication rewords in ``[labels.LANG.newsletter]``. The translations live in
``locale/LANG/LC_MESSAGES/broadsheet.po`` (see ``docs/translations.md``).
:func:`N_` and :func:`NP_` only mark; :mod:`broadsheet.words` translates.

The groups a publication may reword are :data:`NEWSLETTER` (an edition's
labels), :data:`PAGES` (the subscription pages and the confirmation message)
and :data:`FEEDS` (feed descriptions and archive titles); :data:`BUILT_IN`
holds words the configuration sets elsewhere or not at all.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class Message(NamedTuple):
    """One marked message.

    Attributes:
        context: ``GROUP.KEY``, the message's ``msgctxt``.
        singular: the English text (the ``msgid``), a ``str.format`` template.
        plural: the English plural (``msgid_plural``), or ``None``.
    """

    context: str
    singular: str
    plural: str | None = None

    @property
    def group(self) -> str:
        """``newsletter`` of ``newsletter.lead``."""
        return self.context.partition(".")[0]

    @property
    def key(self) -> str:
        """``lead`` of ``newsletter.lead``."""
        return self.context.partition(".")[2]


def N_(context: str, message: str) -> Message:
    """Mark ``message`` (English) for extraction under ``context``."""
    return Message(context, message)


def NP_(context: str, singular: str, plural: str) -> Message:
    """Mark a message with plural forms, chosen by a count at render time."""
    return Message(context, singular, plural)


NEWSLETTER: Final = (
    N_("newsletter.edition_daily", "Daily newsletter"),
    N_("newsletter.edition_weekly", "Weekly newsletter"),
    N_("newsletter.new_daily", "New today"),
    N_("newsletter.new_weekly", "New this week"),
    N_("newsletter.lead", "Lead story"),
    N_("newsletter.read_also", "Read also"),
    N_("newsletter.top_reads", "Top reads"),
    N_("newsletter.read_more", "Read the article"),
    N_("newsletter.by", "By {authors}"),
    N_("newsletter.by_one", "By {authors}"),
    N_("newsletter.greeting_named", "Hello {name},"),
    N_("newsletter.greeting_neutral", "Dear reader,"),
    N_("newsletter.intro_daily", "Here is what {title} published since yesterday's letter."),
    N_(
        "newsletter.intro_weekly",
        "Here is what {title} published this week, and what readers read most.",
    ),
    # TRANSLATORS: the weekly edition's opening line when no article has reads to rank.
    N_("newsletter.intro_weekly_new_only", "Here is what {title} published this week."),
    N_("newsletter.preheader_single", "{lead} and one more new article from {title}"),
    # TRANSLATORS: the preview text when {count} (2 or more) articles follow the lead.
    NP_(
        "newsletter.preheader",
        "{lead} and {count} more new article from {title}",
        "{lead} and {count} more new articles from {title}",
    ),
    N_("newsletter.preheader_alone", "{lead}: new from {title}"),
    N_("newsletter.this_edition_in", "This edition in English"),
    N_("newsletter.view_in_browser", "View this email in your browser"),
    N_(
        "newsletter.why_daily",
        "You receive this because you subscribed to the daily {title} newsletter in {language}.",
    ),
    N_(
        "newsletter.why_weekly",
        "You receive this because you subscribed to the weekly {title} newsletter in {language}.",
    ),
    N_("newsletter.edition_campaign", "A letter"),
    N_(
        "newsletter.why_campaign",
        "You receive this because you subscribed to the {title} newsletter.",
    ),
    N_("newsletter.preferences", "Change your preferences"),
    N_("newsletter.unsubscribe", "Unsubscribe"),
    N_("newsletter.archive", "Past editions"),
    N_("newsletter.web_copy", "This is the web copy of an edition of the {title} newsletter."),
    N_("newsletter.subscribe_hint", "Subscribe on {site} to receive it by email."),
    N_("newsletter.archive_title", "{title} newsletter: past editions"),
    N_("newsletter.archive_intro", "Every edition of the newsletter in English, newest first."),
    N_("newsletter.archive_empty", "No edition has been published yet."),
    N_("newsletter.logo_home", "{title} home page"),
    N_("newsletter.links", "Links"),
    N_("newsletter.more_in_web_copy", "More in this edition's web copy"),
    N_("newsletter.donation_thanks_heading", "Thank you for your support"),
    N_(
        "newsletter.donation_thanks_text",
        "Thanks to your donations, {title} stays free for everyone to read. This is where we "
        "usually ask readers to give; you already do, so we simply say thank you.",
    ),
    N_("newsletter.donation_renew_heading", "Will you give again?"),
    N_(
        "newsletter.donation_renew_text",
        "You supported {title} before, and it made a difference. Our work stays free to read "
        "only because readers give: will you support us again?",
    ),
)

PAGES: Final = (
    N_("pages.subscribe_title", "Subscribe to the {title} newsletter"),
    N_(
        "pages.subscribe_intro",
        "Our analysis in your inbox, daily or once a week. We send a message to confirm your "
        "address first.",
    ),
    N_("pages.email", "Email address"),
    N_("pages.name", "Name (optional)"),
    N_("pages.language", "Language"),
    N_("pages.frequency", "How often"),
    N_("pages.frequency_daily", "Every day"),
    N_("pages.frequency_weekly", "Once a week"),
    N_("pages.topics", "Topics"),
    N_("pages.topics_hint", "Leave all unticked to receive every edition."),
    N_("pages.subscribe_button", "Subscribe"),
    N_("pages.newsletters", "Newsletters"),
    # TRANSLATORS: one newsletter as a checkbox: "English · Once a week".
    N_("pages.newsletter_choice", "{language_name} · {how_often}"),
    N_("pages.newsletters_hint", "Tick as many as you like: each comes on its own."),
    N_(
        "pages.preferences_newsletters_hint",
        "Untick a newsletter to stop it; the others stay as they are. The topics below apply "
        "to every newsletter you take.",
    ),
    N_("pages.timezone", "Time zone (optional)"),
    N_(
        "pages.timezone_hint",
        "A name such as Europe/Berlin; your browser fills it in. Newsletters come by its "
        "clock; left empty, by ours.",
    ),
    N_("pages.confirm_newsletters", "Confirming subscribes you to these newsletters:"),
    N_(
        "pages.privacy",
        "We use your address only to send the newsletter. Every message has a link to "
        "unsubscribe at once.",
    ),
    N_("pages.check_inbox_title", "Check your inbox"),
    N_(
        "pages.check_inbox_text",
        "If {email} can receive mail, a message is on its way to it now. Open the link inside "
        "within {hours} hours to confirm your subscription.",
    ),
    N_("pages.confirmed_title", "Subscription confirmed"),
    N_("pages.confirmed_text", "Thank you. {email} will receive the {title} newsletter."),
    N_("pages.confirm_page_title", "Confirm your subscription"),
    N_("pages.confirm_question", "Send the {title} newsletter to {email}?"),
    N_("pages.confirm_stale_title", "This subscription was cancelled"),
    N_(
        "pages.confirm_stale_text",
        "The address was unsubscribed after this link was sent. Subscribe again if you want "
        "the newsletter.",
    ),
    N_("pages.unsubscribe_title", "Unsubscribe"),
    N_("pages.unsubscribe_question", "Stop sending the {title} newsletter to {email}?"),
    N_("pages.unsubscribe_button", "Unsubscribe"),
    N_("pages.unsubscribed_title", "You are unsubscribed"),
    N_("pages.unsubscribed_text", "{email} will receive no more newsletters from {title}."),
    N_("pages.change_mind", "Changed your mind? Resume on your preferences page."),
    N_("pages.preferences_title", "Newsletter preferences"),
    N_("pages.preferences_intro", "Choose what {email} receives from {title}."),
    N_("pages.save_button", "Save preferences"),
    N_("pages.saved_title", "Preferences saved"),
    N_("pages.saved_text", "{email} will receive the newsletter as you chose."),
    N_("pages.resume", "Resume my subscription"),
    N_("pages.status_unsubscribed", "This address is unsubscribed: nothing is sent to it."),
    N_(
        "pages.status_bounced",
        "Mail to this address was refused, so nothing is sent to it. Subscribe again once it "
        "works.",
    ),
    N_("pages.status_pending", "This address is not confirmed yet: open the link we sent to it."),
    N_("pages.unsubscribe_instead", "Unsubscribe from every newsletter"),
    N_("pages.bad_link_title", "This link does not work"),
    N_(
        "pages.bad_link_text",
        "It may be incomplete, altered or too old. Open the link from your latest newsletter "
        "again, or subscribe anew.",
    ),
    # TRANSLATORS: a counted link of a newsletter (/r/…) that is altered or unknown.
    N_(
        "pages.link_gone_text",
        "It may be incomplete or altered. Every article of our newsletters is on the website.",
    ),
    N_("pages.bad_field_title", "Please check the form"),
    N_("pages.bad_field", "{field}: {reason}"),
    N_("pages.too_many_title", "Too many requests"),
    N_("pages.too_many_text", "Please wait a few minutes and try again."),
    N_("pages.unavailable_title", "Please try again later"),
    N_("pages.unavailable_text", "The confirmation message could not be sent just now."),
    N_("pages.home", "Back to {title}"),
    N_("pages.confirm_subject", "Confirm your subscription to {title}"),
    N_("pages.confirm_greeting_named", "Hello {name},"),
    N_("pages.confirm_greeting", "Hello,"),
    N_(
        "pages.confirm_body",
        "Someone, probably you, asked to receive the {title} newsletter at this address. To "
        "confirm, open this link within {hours} hours:",
    ),
    N_("pages.confirm_button", "Confirm my subscription"),
    N_("pages.already_subject", "Your {title} newsletter subscription"),
    N_(
        "pages.already_text",
        "This address is already subscribed to the {title} newsletter. To change what you "
        "receive, or to unsubscribe, open your preferences:",
    ),
    N_(
        "pages.confirm_ignore",
        "If it was not you, ignore this message: without confirmation nothing more is sent to you.",
    ),
    N_("pages.welcome_subject", "Welcome to the {title} newsletter"),
    N_("pages.welcome_intro", "Thank you for subscribing to the {title} newsletter."),
    N_("pages.welcome_daily", "You will receive it every day at {time} ({zone})."),
    N_("pages.welcome_weekly", "You will receive it once a week: {weekday}, at {time} ({zone})."),
    N_("pages.welcome_archive", "Past editions are in the archive:"),
    N_(
        "pages.welcome_manage",
        "To change what you receive, open your preferences; to stop receiving it, unsubscribe:",
    ),
)

FEEDS: Final = (
    N_("feeds.section", "Articles in {name}, from {site}."),
    N_("feeds.tag", "Articles tagged “{name}”, from {site}."),
    N_("feeds.author", "Articles by {name}, from {site}."),
    N_("feeds.archive", "{title}: archive, page {page}"),
    N_(
        "feeds.page_what",
        "A feed is a list of the newest articles of {site}, made for feed readers: a reader"
        " checks it for you and shows what is new, with no account and no email.",
    ),
    N_(
        "feeds.page_how",
        "To follow it, copy one of the addresses below into your feed reader (for example"
        " NetNewsWire, Feedly, Inoreader or Thunderbird) with its “Add feed” or “Subscribe”"
        " button.",
    ),
    N_("feeds.page_formats", "Follow this feed"),
    N_("feeds.page_latest", "Latest articles"),
    N_("feeds.page_by", "By {authors}"),
)

BUILT_IN: Final = (
    N_("read_in.en", "Read in English"),
    N_("read_in.ru", "Read in Russian"),
    # TRANSLATORS: the language's name as it stands after "in" (Russian: prepositional case).
    N_("language_in.en", "English"),
    N_("language_in.ru", "Russian"),
    N_("subject.daily", "{title} daily: {lead}"),
    N_("subject.weekly", "{title} weekly: {lead}"),
    # TRANSLATORS: the subject of a test send (`broadsheet send EDITION --to ADDRESS`).
    N_("subject.test", "[Test] {subject}"),
)

REPORT: Final = (
    # The words of `broadsheet report` and its HTML page, for a publication's editors.
    N_("report.title", "Newsletter report"),
    N_("report.as_of", "Figures as of {time}"),
    N_("report.editions", "Editions"),
    N_("report.edition", "Edition"),
    N_("report.date", "Date"),
    N_("report.language", "Language"),
    N_("report.frequency", "Frequency"),
    N_("report.daily", "Daily"),
    N_("report.weekly", "Weekly"),
    N_("report.campaign", "Campaign"),
    N_("report.audience", "Audience"),
    N_("report.sent", "Sent"),
    N_("report.waiting", "Not sent yet"),
    N_("report.bounced", "Bounced"),
    N_("report.complaints", "Complaints"),
    N_("report.unsubscribed", "Unsubscribed within 7 days"),
    N_("report.still_counting", "{count} (the seven days are not over)"),
    N_("report.clicks", "Clicks"),
    N_("report.clicks_by_block", "Clicks by block"),
    N_("report.donate_by_variant", "Donate clicks by appeal variant"),
    N_("report.block", "Block"),
    N_("report.variant", "Variant"),
    N_("report.not_counted", "Links were not counted ([links] count_clicks is off)."),
    N_("report.no_clicks", "No clicks yet."),
    N_("report.no_editions", "No edition is stored yet."),
    N_("report.over_time", "Subscriptions over time"),
    N_("report.week", "Week of"),
    N_("report.newsletter", "Newsletter"),
    N_("report.active", "Active"),
    N_("report.began", "Began"),
    N_("report.ended", "Ended"),
    N_("report.growth", "Growth"),
    N_("report.churn", "Churn"),
    N_("report.total", "Total"),
    N_(
        "report.chart_subscriptions",
        "Active subscriptions by language and frequency, week by week",
    ),
    N_("report.chart_growth", "Subscriptions begun and ended per week, and churn"),
    N_("report.chart_clicks", "Clicks by block"),
    N_("report.chart_donate", "Donate clicks by appeal variant"),
    N_("report.chart_note", "The table after the chart gives the same figures."),
    N_("report.block_masthead", "Masthead"),
    N_("report.block_lead", "Lead story"),
    N_("report.block_read_also", "Read also"),
    N_("report.block_new", "New articles"),
    N_("report.block_top_reads", "Top reads"),
    N_("report.block_donation", "Donation"),
    N_("report.block_other_editions", "Other languages"),
    N_("report.block_web_copy", "Web copy"),
    N_("report.block_archive", "Archive"),
    N_("report.variant_appeal", "Appeal"),
    N_("report.variant_thanks", "Thanks"),
    N_("report.variant_renew", "Renewal"),
)

MESSAGES: Final = {m.context: m for m in (*NEWSLETTER, *PAGES, *FEEDS, *BUILT_IN, *REPORT)}
"""Every marked message, by context."""
