"""Russian messages against English ones under ``spamassassin -L -t``.

The only rule that tells them apart is MIXED_ES ("too many es are not es",
1.0), meant for Latin text with Cyrillic look-alike letters mixed in. It
counts Latin "e" (``__LOWER_E``, at most 230 hits) and every e-like letter,
Cyrillic "е" and "ё" included (``__E_LIKE_LETTER``, at most 320), and fires
when ``__LOWER_E > 20`` and ``1.4 * __LOWER_E < __E_LIKE_LETTER < 10 *
__LOWER_E``. For a Russian message long enough to hold 320 e-like letters
that is every message with 33 to 228 Latin "e"s in its rendered body (both
parts of multipart/alternative counted). Short of 33 no real edition gets:
its links (``…/newsletter/editions/…``, preferences, unsubscribe), the Latin
author names and the postal address already hold more, in the HTML part
and again in the text part. Removing the UTM parameters from the text part
brought the daily edition from 132 Latin "e"s to 84 (still firing) and the
weekly from 231 (not firing: over 228) to 119, so it would *start* firing:
not a fix. (Those counts are from an earlier demo with longer links; the
fictional demo's links, ``http://localhost:8080/…``, leave its weekly under
228 as well, so both editions fire.) A Russian confirmation is short (43 e-like Cyrillic letters):
there the rule fires from 21 Latin "e"s, and it holds 26, 16 of them in the
postal address (shown in both parts), the rest in the link's
``/newsletter/`` path and token.

So what is held here: a Russian message scores no higher than its English
twin but for MIXED_ES, and no other rule ever separates them. Exact
equality is not asserted while the rule fires on honest Russian editions;
the reasoning is above, with the counts.
"""

from __future__ import annotations

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
    return Score(float(match.group(1)), frozenset(rules))


def _subscriber(language: str, frequency: Frequency, status: SubscriberStatus) -> Subscriber:
    return Subscriber(
        id=4242,
        email="anna.petrova@example.org",
        name="Anna Petrova",
        language=language,
        frequency=frequency,
        status=status,
    )


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
                ).message(_subscriber(language, frequency, SubscriberStatus.ACTIVE))
                found[f"{frequency}-{language}"] = _score(message.data)
            confirmation = confirmation_message(
                settings,
                _subscriber(language, Frequency.DAILY, SubscriberStatus.PENDING),
                secret=SECRET,
                now=DEMO_NOW,
            )
            found[f"confirm-{language}"] = _score(confirmation.data)
    finally:
        store.close()
    return found


KINDS = ["daily", "weekly", "confirm"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_russian_scores_like_english_but_for_mixed_es(scores: dict[str, Score], kind: str) -> None:
    english, russian = scores[f"{kind}-en"], scores[f"{kind}-ru"]
    assert russian.rules - english.rules <= {"MIXED_ES"}, (english, russian)
    assert russian.total <= english.total + MIXED_ES, (english, russian)
    assert english.total < 1.0, english
