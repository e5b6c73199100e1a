"""Outside checkers: the Nu Html Checker (vnu.jar) and SpamAssassin, run offline."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from broadsheet.emails.edition.compose import PreparedEdition
from tests.emails.demo import SECRET, DemoEditions

REPO = Path(__file__).resolve().parents[2]

# Errors email layouts cannot avoid: the presentational attributes (table
# width, cellpadding, cellspacing, border, align, valign, bgcolor) are how
# every client but the newest lays out a table. What only Outlook must see or
# not see sits in conditional comments, so no mso-* property is left for the
# checker to refuse. Anything else it reports fails the test.
ALLOWED = [
    re.compile(
        r"^The “(width|height|cellpadding|cellspacing|border|align|valign|bgcolor)” attribute"
        r" on the “(table|td|tr|th|img)” element is obsolete\..*$"
    ),
    re.compile(
        r"^Attribute “(width|height|cellpadding|cellspacing|border|align|valign|bgcolor)”"
        r" not allowed on element “(table|td|tr|th)” at this point\.$"
    ),
]


def vnu_jar() -> Path:
    candidates: list[str | Path] = [
        os.environ.get("BROADSHEET_VNU_JAR", ""),
        REPO / "node_modules/vnu-jar/build/dist/vnu.jar",
        REPO / ".cache/node_modules/vnu-jar/build/dist/vnu.jar",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.skip("vnu.jar not found: npm install vnu-jar and set BROADSHEET_VNU_JAR (.ci/run does)")


@pytest.mark.slow
def test_html_passes_the_nu_html_checker(demo_editions: DemoEditions, tmp_path: Path) -> None:
    jar = vnu_jar()
    java = shutil.which("java")
    if java is None:
        pytest.skip("java is absent: apt-get install default-jre-headless (.ci/run does)")
    files = []
    for language in ("en", "ru"):
        outgoing = PreparedEdition.from_record(
            demo_editions.record(language), demo_editions.settings, secret=SECRET
        ).message(demo_editions.subscriber(language))
        message = email.message_from_bytes(outgoing.data, policy=email.policy.default)
        html_part = list(message.iter_parts())[1]
        path = tmp_path / f"message-{language}.html"
        path.write_text(html_part.get_content(), encoding="utf-8")
        files += [
            path,
            demo_editions.path(language, "web"),
            demo_editions.path(language, "archive"),
        ]
    done = subprocess.run(
        [java, "-jar", str(jar), "--errors-only", "--format", "json", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    report = json.loads(done.stderr or done.stdout)
    unexpected = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m['message']}"
        for m in report["messages"]
        if not any(pattern.match(m["message"]) for pattern in ALLOWED)
    ]
    assert not unexpected, "\n".join(unexpected)


def spam_score(data: bytes) -> tuple[float, str]:
    spamassassin = shutil.which("spamassassin")
    if spamassassin is None:
        pytest.skip("spamassassin is absent: apt-get install spamassassin (.ci/run does)")
    done = subprocess.run(
        [spamassassin, "-L", "-t"],
        input=data,
        capture_output=True,
        timeout=120,
        check=False,
    )
    output = done.stdout.decode("utf-8", "replace")
    match = re.search(r"^X-Spam-Status: \w+, score=(-?[\d.]+)", output, re.MULTILINE)
    assert match, output[:2000] + done.stderr.decode("utf-8", "replace")
    details = output.split("Content analysis details:")[-1]
    return float(match.group(1)), details


@pytest.mark.slow
@pytest.mark.parametrize("language", ["en", "ru"])
def test_spamassassin_scores_a_demo_message_below_one(
    demo_editions: DemoEditions, language: str
) -> None:
    outgoing = PreparedEdition.from_record(
        demo_editions.record(language), demo_editions.settings, secret=SECRET
    ).message(demo_editions.subscriber(language))
    score, details = spam_score(outgoing.data)
    if language == "ru" and re.search(r"^\s*1\.0 MIXED_ES\b", details, re.M):
        # Any Russian message with 33 to 228 Latin "e"s in its body trips this
        # rule for Latin text with Cyrillic look-alikes (test_spam_languages.py).
        score -= 1.0
    assert score < 1.0, details
