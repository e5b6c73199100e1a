"""Configuration: ``broadsheet.toml`` read once into frozen, typed settings.

The settings classes, one per table with every key's documentation and
default, are in :mod:`broadsheet.config.settings`; reading and checking the
file is :mod:`broadsheet.config.loader`'s work. Every name is importable from
here.
"""

from broadsheet.config.loader import (
    DEFAULT_CONFIG,
    documented_keys,
    load_settings,
    settings_from_mapping,
)
from broadsheet.config.settings import (
    FEED_FORMATS,
    FEED_SETS,
    WEEKDAYS,
    Check,
    ContentSettings,
    DeliverySettings,
    DonationOptions,
    DonationSettings,
    DonationVariant,
    EmailSettings,
    FeedSettings,
    LinkSettings,
    LocalizedSender,
    LocalizedSite,
    NewsletterSettings,
    SchedulerSettings,
    SenderSettings,
    Settings,
    SiteSettings,
    StoreSettings,
)

__all__ = [
    "DEFAULT_CONFIG",
    "FEED_FORMATS",
    "FEED_SETS",
    "WEEKDAYS",
    "Check",
    "ContentSettings",
    "DeliverySettings",
    "DonationOptions",
    "DonationSettings",
    "DonationVariant",
    "EmailSettings",
    "FeedSettings",
    "LinkSettings",
    "LocalizedSender",
    "LocalizedSite",
    "NewsletterSettings",
    "SchedulerSettings",
    "SenderSettings",
    "Settings",
    "SiteSettings",
    "StoreSettings",
    "documented_keys",
    "load_settings",
    "settings_from_mapping",
]
