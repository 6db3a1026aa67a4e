"""The skills vocabulary that ships with modelry, and skill extraction against it.

``skills.txt`` (beside this module) is modelry's own list, written by hand for modelry and
licensed Apache-2.0 like the rest of it: one skill a line, its canonical name first and its
aliases after ``" | "``. A skill is found in a text when its name or an alias appears as
whole words, case-insensitively, perhaps with a plural "s" ("java" is not found in
"javascript", "rest api" is in "REST APIs").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

SKILLS_FILE = "skills.txt"


@dataclass(frozen=True)
class Vocabulary:
    """Skills by canonical name, and one pattern that finds any of their spellings."""

    skills: tuple[str, ...]
    pattern: re.Pattern[str]
    canonical: dict[str, str]  # lower-cased spelling -> canonical name

    def extract(self, text: str) -> list[str]:
        """The canonical skills ``text`` mentions, sorted and without repeats.

        Example:
            >>> vocabulary().extract("Python, SQL and Docker; some PostgreSQL.")
            ['docker', 'python', 'sql']
        """
        found = {self.canonical[m.group(1).lower()] for m in self.pattern.finditer(text)}
        return sorted(found)


def parse_vocabulary(text: str) -> Vocabulary:
    """A :class:`Vocabulary` from the ``skills.txt`` format."""
    canonical: dict[str, str] = {}
    skills: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        names = [n.strip().lower() for n in line.split(" | ") if n.strip()]
        skills.append(names[0])
        for name in names:
            canonical.setdefault(name, names[0])
    # Longest spellings first, so "spring boot" wins over "spring"; the lookarounds stand in
    # for \b, which fails next to the symbols in "c++", "c#" or ".net".
    spellings = sorted(canonical, key=len, reverse=True)
    alternatives = "|".join(re.escape(s) for s in spellings)
    # A plural "s" is allowed after a skill ("REST APIs", "smart contracts").
    pattern = re.compile(rf"(?<![\w.+#/-])({alternatives})s?(?![\w+#/-])", re.IGNORECASE)
    return Vocabulary(tuple(skills), pattern, canonical)


@cache
def vocabulary() -> Vocabulary:
    """The shipped vocabulary (read once)."""
    source = resources.files("modelry.apps.recruitment").joinpath(SKILLS_FILE)
    return parse_vocabulary(source.read_text(encoding="utf-8"))
