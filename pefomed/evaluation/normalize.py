"""pefomed's answer normalisation for its own protocols (robust, and deliberately not the VQA one).

It borrows the *tables* of the official VQA evaluation (``vqaEval.py``: number words, articles,
contractions) but not its punctuation handling, so it does **not** reproduce the scores of VQA,
PeFoMed, MEVF or LLaVA-Med (those reuse VQA's ``processPunctuation`` + ``processDigitArticle``
unchanged; pefomed's exact copies are in :mod:`pefomed.evaluation.peers`). The rules:

1. Unicode NFKC, lower case; curly apostrophes become ``'`` (VQA folds nothing).
2. A comma between digits is dropped (``1,000`` -> ``1000``).
3. Every punctuation mark, symbol or control character becomes a *space*, except a period
   followed by a digit (``3.5`` stays) and an apostrophe between two letters or digits
   (``don't`` stays). VQA instead deletes periods (``"R.U.Q."`` -> ``"ruq"``, here ``"r u q"``),
   deletes a mark outright when the text has it next to a space, and leaves marks outside its
   short list (``: * # % & '`` and all non-ASCII) attached to the word.
4. Whitespace collapsed; per token: number words zero..ten (and "none") become digits, the
   articles a/an/the are dropped, apostrophe-less contractions get their apostrophe
   (``dont`` -> ``don't``; the everyday subset of VQA's ``contractions``).
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache

NUMBER_WORDS: dict[str, str] = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}
ARTICLES: frozenset[str] = frozenset({"a", "an", "the"})

# Apostrophe-less spellings -> standard contraction (the everyday subset of VQA's table; its
# rarer entries such as "'ow's'at" never occur in Med-VQA answers).
_NT = ("ain are can could did does do had has have is might must need should was were would")
CONTRACTIONS: dict[str, str] = {
    **{f"{w}nt": f"{w}n't" for w in _NT.split()},
    "cant": "can't", "wont": "won't", "shant": "shan't",
    **{f"{w}ve": f"{w}'ve" for w in ("could", "should", "would", "might", "must", "i", "we", "you", "they")},
    "im": "i'm", "youre": "you're", "theyre": "they're", "thats": "that's", "theres": "there's",
    "whats": "what's", "wheres": "where's", "hows": "how's", "whos": "who's", "hes": "he's",
    "itll": "it'll", "youll": "you'll", "theyll": "they'll", "youd": "you'd", "theyd": "they'd",
    "oclock": "o'clock", "yall": "y'all",
}
_APOSTROPHES = {"\u2019": "'", "\u2018": "'", "\u02bc": "'"}


@lru_cache(maxsize=65536)
def normalize_answer(text: str) -> str:
    """The canonical form of an answer: ``"The Left Lung."`` -> ``"left lung"``."""
    s = unicodedata.normalize("NFKC", str(text)).lower()
    for curly, straight in _APOSTROPHES.items():
        s = s.replace(curly, "'")
    s = _strip_marks(s)
    out: list[str] = []
    for token in s.split():
        token = NUMBER_WORDS.get(token, token)
        if token in ARTICLES:
            continue
        out.append(CONTRACTIONS.get(token, token))
    return " ".join(out)


def answer_tokens(text: str) -> list[str]:
    """The tokens of the normalised answer (what every token-level metric counts)."""
    return normalize_answer(text).split()


def _strip_marks(s: str) -> str:
    chars = list(s)
    n = len(chars)
    for i, ch in enumerate(chars):
        if ch.isalnum() or ch.isspace():
            continue
        prev = s[i - 1] if i > 0 else ""
        nxt = s[i + 1] if i + 1 < n else ""
        if ch == "," and prev.isdigit() and nxt.isdigit():
            chars[i] = ""
        elif ch == "." and nxt.isdigit():
            continue
        elif ch == "'" and prev.isalnum() and nxt.isalnum():
            continue
        elif unicodedata.category(ch)[0] in "PSCZ":
            chars[i] = " "
    return "".join(chars)
