"""The Porter stemmer as GAZSL used it (NLTK's default "NLTK_EXTENSIONS" variant).

GAZSL's vocabularies (``*_Porter_*_TFIDF_term.mat``) keep 'day', 'jay' and
'eye' where Porter's 1980 algorithm (PyStemmer's 'porter') gives 'dai',
'jai' and 'ey': the terms were made by NLTK's Porter stemmer, whose default
mode departs from the paper in a few documented places (marked "variant"
below). Matching it matters when encoding with GAZSL's fixed vocabulary: a
stem spelled differently never meets its column.

Written from the published algorithm (M.F. Porter, 1980, "An algorithm for
suffix stripping") plus those departures.
"""

from __future__ import annotations

from functools import lru_cache

_VOWELS = frozenset("aeiou")

# variant: irregular forms stemmed by table
_IRREGULAR = {
    "skies": "sky", "sky": "sky", "dying": "die", "lying": "lie", "tying": "tie",
    "news": "news", "innings": "inning", "inning": "inning", "outings": "outing",
    "outing": "outing", "cannings": "canning", "canning": "canning", "howe": "howe",
    "proceed": "proceed", "exceed": "exceed", "succeed": "succeed",
}


def _consonant(word: str, i: int) -> bool:
    ch = word[i]
    if ch in _VOWELS:
        return False
    if ch == "y":  # y is a consonant at the start or after a vowel
        return i == 0 or not _consonant(word, i - 1)
    return True


def _measure(stem: str) -> int:
    """m in [C](VC)^m[V]: the number of vowel-consonant runs."""
    pattern = "".join("c" if _consonant(stem, i) else "v" for i in range(len(stem)))
    return pattern.count("vc")


def _has_vowel(stem: str) -> bool:
    return any(not _consonant(stem, i) for i in range(len(stem)))


def _double_consonant(word: str) -> bool:
    return len(word) >= 2 and word[-1] == word[-2] and _consonant(word, len(word) - 1)


def _cvc(word: str) -> bool:
    """Ends consonant-vowel-consonant, the last not w, x or y (variant: or is a 2-letter vowel-consonant word)."""
    if len(word) >= 3:
        return (_consonant(word, len(word) - 3) and not _consonant(word, len(word) - 2)
                and _consonant(word, len(word) - 1) and word[-1] not in "wxy")
    return len(word) == 2 and not _consonant(word, 0) and _consonant(word, 1)


def _m_positive(stem: str) -> bool:
    return _measure(stem) > 0


def _m_above_one(stem: str) -> bool:
    return _measure(stem) > 1


def _apply(word: str, rules) -> str:
    """The first rule whose suffix matches decides, whether or not its condition holds."""
    for suffix, replacement, condition in rules:
        if word.endswith(suffix):
            stem = word[: len(word) - len(suffix)]
            return stem + replacement if condition is None or condition(stem) else word
    return word


def _step1a(word: str) -> str:
    if word.endswith("ies") and len(word) == 4:  # variant: ties -> tie
        return word[:-1]
    return _apply(word, [("sses", "ss", None), ("ies", "i", None), ("ss", "ss", None), ("s", "", None)])


def _step1b(word: str) -> str:
    if word.endswith("ied"):  # variant: died -> die, spied -> spi
        return word[:-1] if len(word) == 4 else word[:-3] + "i"
    if word.endswith("eed"):
        return word[:-1] if _m_positive(word[:-3]) else word
    for suffix in ("ed", "ing"):
        if word.endswith(suffix) and _has_vowel(word[: -len(suffix)]):
            stem = word[: -len(suffix)]
            break
    else:
        return word
    if stem.endswith(("at", "bl", "iz")):
        return stem + "e"
    if _double_consonant(stem):
        return stem[:-1] if stem[-1] not in "lsz" else stem
    if _measure(stem) == 1 and _cvc(stem):
        return stem + "e"
    return stem


def _step1c(word: str) -> str:
    # variant: y -> i only after a consonant that is not the first letter (day stays day, cry -> cri)
    if word.endswith("y") and len(word) > 2 and _consonant(word, len(word) - 2):
        return word[:-1] + "i"
    return word


_STEP2 = [
    ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
    ("bli", "ble"),  # variant of abli -> able
    ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"), ("ization", "ize"),
    ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"), ("fulness", "ful"),
    ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
    ("fulli", "ful"),  # variant
]


def _step2(word: str) -> str:
    # variant: alli -> al first, then step 2 again on the result
    if word.endswith("alli") and _m_positive(word[:-4]):
        return _step2(word[:-4] + "al")
    rules = [(s, r, _m_positive) for s, r in _STEP2]
    # variant: logi -> log, measuring the stem with its 'l' so that geologi -> geolog
    rules.append(("logi", "log", lambda stem: _m_positive(word[:-3])))
    return _apply(word, rules)


_STEP3 = [("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"), ("ful", ""), ("ness", "")]
_STEP4 = ["al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion",
          "ou", "ism", "ate", "iti", "ous", "ive", "ize"]


def _step3(word: str) -> str:
    return _apply(word, [(s, r, _m_positive) for s, r in _STEP3])


def _step4(word: str) -> str:
    rules = [(s, "", (lambda stem: _m_above_one(stem) and stem[-1:] in ("s", "t")) if s == "ion" else _m_above_one)
             for s in _STEP4]
    return _apply(word, rules)


def _step5(word: str) -> str:
    if word.endswith("e"):
        stem = word[:-1]
        m = _measure(stem)
        if m > 1 or (m == 1 and not _cvc(stem)):
            word = stem
    if word.endswith("ll") and _m_above_one(word[:-1]):
        word = word[:-1]
    return word


@lru_cache(maxsize=1 << 18)
def stem(word: str) -> str:
    """Porter stem of one lower-case word (NLTK variant); words of 1-2 letters are kept."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 2:
        return word
    for step in (_step1a, _step1b, _step1c, _step2, _step3, _step4, _step5):
        word = step(word)
    return word


def stem_words(words) -> list[str]:
    return [stem(w) for w in words]
