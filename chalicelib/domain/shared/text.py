"""How names are compared and searched: one ``fold`` for indexing and
querying alike (CON-12), so what is stored and what is typed always meet.

Folding transliterates every letter to ASCII (anyascii: "Ørsted" -> "orsted",
"Łukasz Żółć" -> "lukasz zolc", "Ђорђе" -> "djordje"), ignores case and
collapses whitespace. NFKD alone leaves letters such as Ø, Ł or ß untouched.
"""

from __future__ import annotations

import re

MAX_FOLDED = 100
# What separates words: anything but letters, digits and the characters an
# e-mail address keeps together ("Müller-Lüdenscheidt" is two words).
_WORD_BREAK = re.compile(r"[^0-9a-z@._+]+")
# German writers type umlauts as two letters when they cannot type them.
_GERMAN_SPELLING = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})


def fold(text: str) -> str:
    """Case- and accent-insensitive form: "Müller", "MULLER" and "muller" match."""
    from anyascii import anyascii

    return " ".join(anyascii(text).casefold().split())[:MAX_FOLDED]


def words(text: str) -> list[str]:
    """The folded words of a name or a query, in order, without repeats."""
    # "O'Brien" is found as "obrien" and as "o'brien".
    folded = fold(text).replace("'", "").replace("’", "")
    return list(dict.fromkeys(w.strip("._") for w in _WORD_BREAK.split(folded) if w.strip("._")))


def spelling_variants(text: str) -> list[str]:
    """Words of ``text`` as also written without umlauts ("Müller" -> "mueller"),
    when that differs from the plain fold ("muller")."""
    alternative = words(text.translate(_GERMAN_SPELLING))
    return [w for w in alternative if w not in words(text)]
