"""broadsheet beside Hugo: one generated Markdown publication, built by each.

Generates a publication of ``--articles`` Markdown files (10,000 by default)
with front matter, in two languages, 10 sections, 50 tags and 40 authors,
each with a full body of about 3 KB (headings, lists, links, emphasis), into
a temporary folder laid out as a Hugo site (``content/SECTION/ID.LANG.md``).
The same files are then built:

- by broadsheet, through its command line as a user runs it:
  ``broadsheet import content/`` then ``broadsheet feeds build`` (every feed
  set in RSS, Atom and JSON Feed, full content, 50 items per feed, RFC 5005
  archives of 50 entries), into a new SQLite store and output folder;
- by Hugo (Debian's ``hugo``), with an RSS template that puts each page's
  full content in ``content:encoded``, 50 items per feed, RSS output for the
  home page, sections, taxonomies and terms (tags and authors) in both
  languages, and no page output (``_build.render = "link"``: pages have their URLs but
  no file).

Each round builds with one tool then the other, alternating which goes
first, from nothing (a full build: new store, empty output folders) and
then again with nothing changed (a no-op: broadsheet re-imports and rebuilds
the feeds; Hugo renders its site again). CPU time is user + system time of
the child processes (``resource.getrusage(RUSAGE_CHILDREN)`` before and
after, so every thread Hugo starts counts); peak memory is each process's
own maximum resident set size (from ``os.wait4``).

Printed: each round's figures; then min/median/max over the rounds of the
ratio broadsheet/Hugo for the full build and for the no-op, of each tool's
no-op as a share of its own full build, and the peak memory of each step.
Targets (issue 15): full import + feeds at most 2 times Hugo's CPU at 10,000
articles; a no-op at most 5 % of broadsheet's full build.

Where Hugo is absent, its side is skipped with a message and broadsheet's
figures are printed alone.

Usage::

    .venv/bin/python bench/peers_bench.py                     # 10,000 articles, 3 rounds
    .venv/bin/python bench/peers_bench.py --articles 200 --rounds 1
    .venv/bin/python bench/peers_bench.py --dir /srv/scratch  # work elsewhere
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

HUGO = "/usr/bin/hugo"

SECTIONS = [
    "Foreign policy",
    "Domestic politics",
    "Economy",
    "Society",
    "Security",
    "Regions",
    "Energy",
    "Culture",
    "Science",
    "Opinion",
]

WORDS = {
    "en": [
        "policy",
        "budget",
        "region",
        "sanctions",
        "energy",
        "trade",
        "election",
        "governor",
        "ministry",
        "export",
        "pipeline",
        "market",
        "inflation",
        "currency",
        "border",
        "treaty",
        "reform",
        "pension",
        "migration",
        "harvest",
        "parliament",
        "council",
        "agreement",
        "summit",
        "industry",
        "wages",
        "prices",
        "taxes",
        "court",
        "opposition",
    ],
    "ru": [
        "политика",
        "бюджет",
        "регион",
        "санкции",
        "энергия",
        "торговля",
        "выборы",
        "губернатор",
        "министерство",
        "экспорт",
        "трубопровод",
        "рынок",
        "инфляция",
        "валюта",
        "граница",
        "договор",
        "реформа",
        "пенсия",
        "миграция",
        "урожай",
        "парламент",
        "совет",
        "соглашение",
        "саммит",
        "промышленность",
        "зарплаты",
        "цены",
        "налоги",
        "суд",
    ],
}

CONFIG = """\
[site]
title = "Peers Review"
url = "https://peers.example"
languages = ["en", "ru"]
timezone = "Europe/Moscow"
description = "A generated publication for the peers benchmark."

[store]
url = "sqlite:///{store}"

[feeds]
out = "{out}"
items = 50
archive_size = 50

[donation.en]
heading = "Support us"
text = "No paywall."
button_label = "Donate"
url = "https://peers.example/en/donate/"

[donation.ru]
heading = "Поддержите нас"
text = "Без платного доступа."
button_label = "Поддержать"
url = "https://peers.example/ru/donate/"

[sender]
name = "Peers Review"
email = "letters@peers.example"
"""

HUGO_CONFIG = """\
baseURL = "https://peers.example/"
title = "Peers Review"
defaultContentLanguage = "en"
disableKinds = ["sitemap", "robotsTXT", "404"]
disableAliases = true

[languages.en]
languageCode = "en"
weight = 1
languageName = "English"
[languages.ru]
languageCode = "ru"
weight = 2
languageName = "Русский"

[taxonomies]
tag = "tags"
author = "authors"

[frontmatter]
date = ["published", "date"]

[services.rss]
limit = 50

[outputs]
home = ["RSS"]
section = ["RSS"]
taxonomy = ["RSS"]
term = ["RSS"]

# No page output: pages are only listed, in the feeds.
[[cascade]]
[cascade._build]
render = "link"
list = "always"
[cascade._target]
kind = "page"
"""

# Hugo's own RSS template, with the full content of each page.
HUGO_RSS = """\
{{- $pages := .RegularPages -}}
{{- if .IsHome -}}{{- $pages = .Site.RegularPages -}}{{- end -}}
{{- $limit := .Site.Config.Services.RSS.Limit -}}
{{- if ge $limit 1 -}}{{- $pages = $pages | first $limit -}}{{- end -}}
{{- printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\" standalone=\\"yes\\"?>" | safeHTML }}
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" \
xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel>
    <title>{{ if eq .Title .Site.Title }}{{ .Site.Title }}{{ else }}\
{{ with .Title }}{{ . }} on {{ end }}{{ .Site.Title }}{{ end }}</title>
    <link>{{ .Permalink }}</link>
    <description>Recent content in {{ .Title }}</description>
    <language>{{ .Site.LanguageCode }}</language>
    {{- if not .Date.IsZero }}
    <lastBuildDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</lastBuildDate>
    {{- end }}
    {{- with .OutputFormats.Get "RSS" }}
    {{ printf "<atom:link href=%q rel=\\"self\\" type=%q />" .Permalink .MediaType | safeHTML }}
    {{- end }}
    {{- range $pages }}
    <item>
      <title>{{ .Title }}</title>
      <link>{{ .Permalink }}</link>
      <pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</pubDate>
      <guid>{{ .Permalink }}</guid>
      <description>{{ .Params.standfirst }}</description>
      <content:encoded>{{ .Content | html }}</content:encoded>
      {{- range .Params.authors }}
      <dc:creator xmlns:dc="http://purl.org/dc/elements/1.1/">{{ . }}</dc:creator>
      {{- end }}
      {{- range .Params.tags }}
      <category>{{ . }}</category>
      {{- end }}
    </item>
    {{- end }}
  </channel>
</rss>
"""


def _slug(text: str) -> str:
    return "-".join(text.lower().split())


def _sentence(rng: random.Random, words: list[str], low: int = 8, high: int = 20) -> str:
    chosen = [rng.choice(words) for _ in range(rng.randint(low, high))]
    return chosen[0].capitalize() + " " + " ".join(chosen[1:]) + "."


def _body(rng: random.Random, words: list[str], index: int) -> str:
    """About 3 KB of Markdown: paragraphs, a heading, a list, a link and emphasis."""
    parts: list[str] = []
    for n in range(7):
        sentences = " ".join(_sentence(rng, words) for _ in range(3))
        if n == 1:
            sentences += f" See [the earlier piece](https://peers.example/a/{index - 1}/)."
        if n == 2:
            sentences = f"*{sentences}*"
        parts.append(sentences)
        if n == 3:
            parts.append("## " + _sentence(rng, words, 3, 6).rstrip("."))
            parts.append("\n".join(f"- {_sentence(rng, words, 5, 10)}" for _ in range(4)))
    return "\n\n".join(parts) + "\n"


def generate(content: Path, articles: int, seed: int = 15) -> None:
    """Write ``articles`` Markdown files into ``content/SECTION/``, oldest first."""
    rng = random.Random(seed)
    tags = [f"topic {n}" for n in range(50)]
    authors = [f"Author {chr(65 + n % 26)}{n // 26} Writer" for n in range(40)]
    start = datetime(2015, 1, 1, 9, 0, tzinfo=UTC)
    step = (datetime(2025, 1, 1, tzinfo=UTC) - start) / max(articles, 1)
    for section in SECTIONS:
        (content / _slug(section)).mkdir(parents=True, exist_ok=True)
    for index in range(articles):
        language = "en" if index % 2 == 0 else "ru"
        words = WORDS[language]
        section = SECTIONS[rng.randrange(len(SECTIONS))]
        published = (start + step * index).replace(microsecond=0) + timedelta(seconds=index % 60)
        ident = f"a{index:06d}"
        names = rng.sample(authors, rng.choice((1, 1, 1, 2)))
        chosen = rng.sample(tags, rng.randint(1, 4))
        front = [
            "---",
            f"id: {ident}",
            f"title: {_sentence(rng, words, 4, 9).rstrip('.')}",
            f"standfirst: {_sentence(rng, words, 12, 24)}",
            f"authors: [{', '.join(names)}]",
            f"section: {section}",
            f"tags: [{', '.join(chosen)}]",
            f"language: {language}",
            f"published: {published.isoformat()}",
            "---",
        ]
        text = "\n".join(front) + "\n" + _body(rng, words, index)
        (content / _slug(section) / f"{ident}.{language}.md").write_text(text, encoding="utf-8")


def write_hugo_site(site: Path) -> None:
    """The Hugo configuration and RSS template around ``site/content``."""
    (site / "hugo.toml").write_text(HUGO_CONFIG, encoding="utf-8")
    layouts = site / "layouts" / "_default"
    layouts.mkdir(parents=True, exist_ok=True)
    (layouts / "rss.xml").write_text(HUGO_RSS, encoding="utf-8")


@dataclass
class Run:
    """One command's cost."""

    cpu: float
    wall: float
    peak_mib: float


def run(command: list[str], cwd: Path) -> Run:
    """Run ``command`` to its end; its CPU (children's user + sys) and its own peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, env=_env())
        # Reaped with wait4, which gives this process's own peak RSS.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            out.seek(0)
            err.seek(0)
            raise SystemExit(
                f"{' '.join(command)}: exit {process.returncode}\n"
                f"{out.read().decode(errors='replace')}\n{err.read().decode(errors='replace')}"
            )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(cpu=cpu, wall=wall, peak_mib=usage.ru_maxrss / 1024)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("BROADSHEET_SECRET", "peers-bench-secret")
    env["NO_COLOR"] = "1"
    return env


def _broadsheet() -> list[str]:
    """The ``broadsheet`` command of this interpreter's environment."""
    script = Path(sys.executable).parent / "broadsheet"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from broadsheet.cli import main; sys.exit(main())"]


@dataclass
class Build:
    """One tool's full build and no-op rebuild in one round."""

    full: list[Run]
    noop: list[Run]
    files: int

    @property
    def full_cpu(self) -> float:
        return sum(r.cpu for r in self.full)

    @property
    def noop_cpu(self) -> float:
        return sum(r.cpu for r in self.noop)


def _count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def build_broadsheet(work: Path, content: Path) -> Build:
    """``broadsheet import`` + ``broadsheet feeds build`` from nothing, then again."""
    where = work / "broadsheet"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir()
    config = where / "broadsheet.toml"
    config.write_text(
        CONFIG.format(store=where / "peers.db", out=where / "feeds"), encoding="utf-8"
    )
    command = _broadsheet()
    steps = [
        [*command, "import", str(content), "--format", "md", "--config", str(config)],
        [*command, "feeds", "build", "--no-ping", "--config", str(config)],
    ]
    full = [run(step, where) for step in steps]
    noop = [run(step, where) for step in steps]
    return Build(full, noop, _count(where / "feeds"))


def build_hugo(work: Path, site: Path, hugo: str) -> Build:
    """``hugo`` from nothing, then again."""
    out = work / "hugo-public"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(site / "resources", ignore_errors=True)
    command = [hugo, "--quiet", "--source", str(site), "--destination", str(out)]
    full = [run(command, site)]
    noop = [run(command, site)]
    return Build(full, noop, _count(out))


def _spread(values: list[float], unit: str = "") -> str:
    return (
        f"min {min(values):.2f}{unit}  median {statistics.median(values):.2f}{unit}  "
        f"max {max(values):.2f}{unit}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=None, help="folder to work in (default: a temporary one)")
    parser.add_argument("--hugo", default=HUGO, help="the hugo command")
    args = parser.parse_args(argv)

    hugo = shutil.which(args.hugo)
    with tempfile.TemporaryDirectory(prefix="peers-bench-", dir=args.dir) as temporary:
        work = Path(temporary)
        site = work / "site"
        generate(site / "content", args.articles)
        write_hugo_site(site)
        size = sum(p.stat().st_size for p in (site / "content").rglob("*.md"))
        print(
            f"{args.articles} articles ({size / 2**20:.1f} MiB of Markdown), "
            f"{args.rounds} rounds; CPU = user + sys of the child processes"
        )
        if hugo is None:
            print(f"hugo: {args.hugo} not found; Hugo's side is skipped (apt-get install hugo)")
        else:
            version = subprocess.run([hugo, "version"], capture_output=True, text=True, check=False)
            print(f"hugo: {version.stdout.strip()}")
        ours: list[Build] = []
        theirs: list[Build] = []
        for round_ in range(args.rounds):
            order = ["broadsheet", "hugo"] if round_ % 2 == 0 else ["hugo", "broadsheet"]
            for tool in order:
                if tool == "broadsheet":
                    ours.append(build_broadsheet(work, site / "content"))
                elif hugo is not None:
                    theirs.append(build_hugo(work, site, hugo))
            b = ours[-1]
            line = (
                f"round {round_ + 1}: broadsheet full {b.full_cpu:.2f} s "
                f"(import {b.full[0].cpu:.2f} + feeds {b.full[1].cpu:.2f}), "
                f"no-op {b.noop_cpu:.2f} s (import {b.noop[0].cpu:.2f} + feeds "
                f"{b.noop[1].cpu:.2f}), {b.files} files"
            )
            if theirs:
                h = theirs[-1]
                line += (
                    f"; hugo full {h.full_cpu:.2f} s, no-op {h.noop_cpu:.2f} s, {h.files} files; "
                    f"ratio full {b.full_cpu / h.full_cpu:.2f}, no-op {b.noop_cpu / h.noop_cpu:.2f}"
                )
            print(line, flush=True)

        print()
        print(f"broadsheet full (import + feeds), CPU: {_spread([b.full_cpu for b in ours], ' s')}")
        print(f"broadsheet no-op, CPU:                 {_spread([b.noop_cpu for b in ours], ' s')}")
        print(
            "broadsheet no-op / its full, %:        "
            + _spread([100 * b.noop_cpu / b.full_cpu for b in ours])
            + "   (target <= 5)"
        )
        print(
            f"broadsheet peak RSS: import {max(b.full[0].peak_mib for b in ours):.0f} MiB, "
            f"feeds build {max(b.full[1].peak_mib for b in ours):.0f} MiB"
        )
        if theirs:
            full, noop = [h.full_cpu for h in theirs], [h.noop_cpu for h in theirs]
            print(f"hugo full, CPU:                        {_spread(full, ' s')}")
            print(f"hugo no-op, CPU:                       {_spread(noop, ' s')}")
            print(
                "hugo no-op / its full, %:              "
                + _spread([100 * h.noop_cpu / h.full_cpu for h in theirs])
            )
            print(f"hugo peak RSS: {max(h.full[0].peak_mib for h in theirs):.0f} MiB")
            print(
                "ratio broadsheet / hugo, full:         "
                + _spread([b.full_cpu / h.full_cpu for b, h in zip(ours, theirs, strict=True)])
                + "   (target <= 2)"
            )
            print(
                "ratio broadsheet / hugo, no-op:        "
                + _spread([b.noop_cpu / h.noop_cpu for b, h in zip(ours, theirs, strict=True)])
            )


if __name__ == "__main__":
    main()
