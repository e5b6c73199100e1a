"""Russian messages against English ones under ``spamassassin -L -t``.

The one rule that ever told them apart is MIXED_ES ("too many es are not
es", 1.0, ``/usr/share/spamassassin/72_active.cf``), meant for Latin text
with Cyrillic look-alike letters mixed in. It is a meta rule over two body
rules, which run on the rendered body: the Subject, then every text part
of the message one after the other (for multipart/alternative both the
text twin and the HTML part's visible text, not its ``href``\\ s)::

    __LOWER_E        /e/            multiple maxhits=230  (Latin "e")
    __E_LIKE_LETTER  /<lcase_e>/    multiple maxhits=320  (every e-like letter:
                                                           Latin e, Cyrillic е ё є, è é ê ë…)
    MIXED_ES  !HTML_IMAGE_ONLY_16 && __LOWER_E > 20
              && __E_LIKE_LETTER > 1.4 * __LOWER_E && __E_LIKE_LETTER < 10 * __LOWER_E

English text has no other e-like letters (the ratio is 1), so it never
fires there. A Russian edition holds far more than 320 Cyrillic "е", so the
second count stops at 320 and the rule fires for 33 to 228 Latin "e"s; a
Russian confirmation (about 55 e-like letters) fires from 21.

Where the Latin "e"s of the demo's Russian messages were, for a reader
with a Cyrillic name, leaving out the letters of the signed tokens in the
footer (reader number, time, signature: 1.8 "e"s on average):

============  ======  =================================================
message       before  after (plain links in the text twin, each once;
                      ``[sender.ru] postal_address``)
============  ======  =================================================
daily         88      28: no MIXED_ES (one reader in 20 gets 5 or more
                      "e"s from the tokens and still 1.0)
weekly        165     39: MIXED_ES still fires
confirmation  12      2: never fired (it greets no one by name)
============  ======  =================================================

(The "before" counts were taken for a reader named Anna Petrova, tokens
included: 2 to 4 more than the rest of the table would give.) Before, 48
(daily) and 112 (weekly) of them were the UTM tags of the text
twin's links (``utm_source=newsletter&utm_medium=email``, 6 per link) and
10 the Latin postal address (in both parts). What is left is the links'
own addresses: the articles' slugs (``potolok-cen-na-neft``) and their
English translations' (``eu-sanctions-fatigue``), ``/editions/``, the
personal links (``/preferences?token=…``, ``/unsubscribe?token=…``), the
donation page, and the label "This edition in English"; a reader's name
written in Latin letters is greeted in both parts. The weekly edition links
thirteen articles, three of them to English translations: no honest change
to the message gets it under 33 (docs/newsletters.md, Spam filters and
Cyrillic text).

So what is held here: the Russian daily edition and the Russian
confirmation score no more than their English twins, and the weekly no
more than its English twin plus MIXED_ES. The editions are scored for the
demo's first reader of each newsletter (``subscribers.csv``), with the
personal links signed at the demo's reference time so the message, and the
score, is the same on every run (its tokens hold 3 "e"s: the daily is
scored with 31, two short of firing).
"""

from __future__ import annotations

import csv
import dataclasses
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from broadsheet.config import load_settings
from broadsheet.emails.edition.compose import PreparedEdition
from broadsheet.emails.subscriptions.flows import confirmation_message
from broadsheet.model import Frequency, Subscriber, SubscriberStatus
from broadsheet.scheduler.editions import build_edition
from broadsheet.store import Store
from tests.conftest import DEMO_NOW

SECRET = "demo-link-secret"
MIXED_ES = 1.0


@dataclass(frozen=True)
class Score:
    total: float
    rules: frozenset[str]
    report: str


def _score(data: bytes) -> Score:
    spamassassin = shutil.which("spamassassin")
    if spamassassin is None:
        pytest.skip("spamassassin is absent: apt-get install spamassassin (.ci/run does)")
    done = subprocess.run(
        [spamassassin, "-L", "-t"], input=data, capture_output=True, timeout=120, check=False
    )
    output = done.stdout.decode("utf-8", "replace")
    match = re.search(r"^X-Spam-Status: \w+, score=(-?[\d.]+)", output, re.MULTILINE)
    assert match, output[:2000] + done.stderr.decode("utf-8", "replace")
    details = output.split("Content analysis details:")[-1]
    rules = re.findall(r"^\s*-?\d+\.\d+\s+([A-Z0-9_]+)\s", details, re.MULTILINE)
    return Score(float(match.group(1)), frozenset(rules), details.strip())


def _reader(folder: Path, language: str, frequency: Frequency) -> Subscriber:
    """The demo's first reader of the ``language`` ``frequency`` newsletter."""
    with (folder / "subscribers.csv").open(encoding="utf-8", newline="") as rows:
        for row in csv.DictReader(rows):
            if row["language"] == language and row["frequency"] == frequency:
                return Subscriber(
                    id=4242,
                    email=row["email"],
                    name=row["name"],
                    language=language,
                    frequency=frequency,
                    status=SubscriberStatus.ACTIVE,
                )
    raise AssertionError(f"the demo has no {language} {frequency} reader")


@pytest.fixture(scope="module")
def scores(demo_store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Score]:
    """Scores of the demo's daily and weekly editions and confirmations, per language."""
    target = tmp_path_factory.mktemp("spam") / "polynya"
    shutil.copytree(demo_store_dir, target)
    settings = load_settings(target / "broadsheet.toml")
    store = Store.open(settings.store.url)
    found: dict[str, Score] = {}
    try:
        for language in ("en", "ru"):
            for frequency in (Frequency.DAILY, Frequency.WEEKLY):
                outcome = build_edition(
                    store, settings, language=language, frequency=frequency, now=DEMO_NOW
                )
                assert outcome.edition is not None
                message = PreparedEdition.from_record(
                    outcome.edition, settings, secret=SECRET
                ).message(
                    _reader(target, language, frequency),
                    signed_at=int(DEMO_NOW.timestamp()),
                )
                found[f"{frequency}-{language}"] = _score(message.data)
            pending = _reader(target, language, Frequency.DAILY)
            confirmation = confirmation_message(
                settings,
                dataclasses.replace(pending, status=SubscriberStatus.PENDING),
                secret=SECRET,
                now=DEMO_NOW,
            )
            found[f"confirm-{language}"] = _score(confirmation.data)
    finally:
        store.close()
    return found


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["daily", "confirm"])
def test_russian_scores_no_higher_than_english(scores: dict[str, Score], kind: str) -> None:
    english, russian = scores[f"{kind}-en"], scores[f"{kind}-ru"]
    assert english.total < 1.0, english.report
    assert russian.total <= english.total, russian.report
    assert "MIXED_ES" not in russian.rules, russian.report


@pytest.mark.slow
def test_russian_weekly_scores_english_but_for_mixed_es(scores: dict[str, Score]) -> None:
    english, russian = scores["weekly-en"], scores["weekly-ru"]
    assert english.total < 1.0, english.report
    assert russian.rules - english.rules <= {"MIXED_ES"}, russian.report
    assert russian.total <= english.total + MIXED_ES, russian.report
