"""Finding tools by what an agent asks for (pure): the ranking behind find_tools (zbmcp/calls/meta_tools.py).

A query is a few words ("journal entries", "record a vendor payment"). Each word is matched, singular or
plural, against a tool's name, module, title and description, the name weighing most; the tools that match
most come first. Only the tools handed in are ever searched: the caller hands in the agent's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from zbmcp.core.manifest import ToolSpec

MAX_QUERY = 200  # characters: a few words, never a document
MAX_WORDS = 12
SUMMARY_CHARACTERS = 160
_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing about which tool is meant.
_FILLER = frozenset("a an and the of for to in on by with from or my our all any some me i is are be "
                    "tool tools zoho books".split())


@dataclass(frozen=True)
class Match:
    spec: ToolSpec
    score: int


def stem(word: str) -> str:
    """A word's singular, as far as Zoho's names need: entries -> entry, taxes -> tax, journals -> journal."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def query_words(query: str) -> list[str]:
    """The query's words that say something, singular, once each (at most MAX_WORDS)."""
    words = [stem(w) for w in _WORD.findall(query.lower()) if w not in _FILLER]
    return list(dict.fromkeys(words))[:MAX_WORDS]


@lru_cache(maxsize=8192)
def _index(spec: ToolSpec) -> tuple[frozenset[str], str, frozenset[str], frozenset[str]]:
    """(name words, module, title words, description words) of a tool, singular; a spec is loaded once."""
    def words(text: str) -> frozenset[str]:
        return frozenset(stem(w) for w in _WORD.findall(text.lower()))
    return words(spec.name.replace("_", " ")), spec.module, words(spec.title), words(spec.description)


def score(spec: ToolSpec, words: Sequence[str], raw: frozenset[str] = frozenset()) -> int:
    """How well the tool matches the query's `words` (singular); `raw`, the words as written, prefers
    list_journals to get_journal for "journals". A tool whose name the query covers, but for its verb
    (get_bill for "bill"), comes before one that only mentions it (apply_credits_to_bill)."""
    name, module, title, description = _index(spec)
    parts = spec.name.split("_")
    total = 3 if words and all(stem(part) in words for part in parts[1:]) else 0
    total += sum(1 for part in parts if part in raw)
    for word in words:
        if word in name:
            total += 4
        elif len(word) >= 4 and any(part.startswith(word) or word.startswith(part) for part in name
                                    if len(part) >= 4):
            total += 2
        if len(word) >= 3 and word in module:  # modules run words together: customerpayments
            total += 2
        if word in title:
            total += 2
        if word in description:
            total += 1
    return total


def find(specs: Iterable[ToolSpec], query: str, *, module: str | None = None,
         access: str | None = None) -> list[Match]:
    """The tools that match, best first (then shorter names); all of `specs` when the query has no words."""
    words = query_words(query)
    raw = frozenset(_WORD.findall(query.lower()))
    exact = query.strip().lower()
    matches = []
    for spec in specs:
        if (module is not None and spec.module != module) or (access is not None and spec.access != access):
            continue
        points = (100 if spec.name == exact else 0) + score(spec, words, raw) if words else 1
        if points > 0:
            matches.append(Match(spec, points))
    matches.sort(key=lambda m: (-m.score, len(m.spec.name), m.spec.name))
    # a tool that shares one loose word with the query is noise beside one that matches it well
    return [m for m in matches if m.score * 3 >= matches[0].score] if matches else matches


def summary(spec: ToolSpec) -> str:
    """A tool's description cut to its first sentence, at most SUMMARY_CHARACTERS."""
    text = " ".join(spec.description.split())
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return first if len(first) <= SUMMARY_CHARACTERS else first[:SUMMARY_CHARACTERS - 1].rstrip() + "…"


def modules(specs: Iterable[ToolSpec]) -> Mapping[str, tuple[int, int]]:
    """module -> (reads, writes) among `specs`, by module name."""
    counts: dict[str, list[int]] = {}
    for spec in specs:
        counted = counts.setdefault(spec.module, [0, 0])
        counted[0 if spec.read_only else 1] += 1
    return {name: (reads, writes) for name, (reads, writes) in sorted(counts.items())}
