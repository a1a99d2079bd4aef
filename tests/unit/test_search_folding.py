"""Search folding transliterates every letter (the one fold, domain/shared/text.py)."""

from __future__ import annotations

from chalicelib.domain.shared.text import fold, spelling_variants, words


def test_fold_transliterates_every_letter():
    assert fold("Zoë Ørsted") == "zoe orsted"
    assert fold("Łukasz Żółć") == "lukasz zolc"
    assert fold("  ANNA   Müller ") == "anna muller"
    assert words("Müller-Lüdenscheidt, Anna") == ["muller", "ludenscheidt", "anna"]
    assert words("O'Brien") == ["obrien"]
    assert spelling_variants("Jörg Müller") == ["joerg", "mueller"]
