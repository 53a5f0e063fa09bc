"""The VQA-eval answer normalisation, line for line: ``processPunctuation`` + ``processDigitArticle``.

Source: the official VQA evaluation (``vqaEval.py`` by aagrawal), as copied into
github jinlHe/PeFoMed @ 5242449 ``pefomed/common/vqa_tools/vqa_eval.py`` and
``pefomed/common/medvqa_tools/vqa_eval.py``, github aioz-ai/MICCAI19-MedVQA
``tools/compute_softscore.py`` and github microsoft/LLaVA-Med @ b9a98a7
``llava/eval/eval_metrics/glossary.py`` (``normalize_word``). All four carry the same tables and
the same two functions; the peers differ only in what they do before and after (see their modules).

Quirks kept on purpose, because the published numbers depend on them:

- a mark in ``punct`` is *deleted* when the text has it next to a space anywhere (or has a
  digit-comma-digit anywhere), and *replaced by a space* otherwise: ``"R/L"`` -> ``"R L"`` but
  ``"R/L /"`` -> ``"RL "``; the test is on the original text, the replacement on the running one;
- ``periodStrip`` (``(?!<=\\d)(\\.)(?!\\d)``: its look-behind is mistyped as a look-ahead)
  deletes every period not followed by a digit (``"R.U.Q."`` -> ``"RUQ"``), and its third
  positional argument ``re.UNICODE`` (= 32) is ``count``: at most 32 periods go per call;
- marks outside ``punct`` (``' : * # % & $ | ~ ^``, any non-ASCII) stay attached to the words;
- no Unicode folding; ``str.lower`` and ``str.split`` are Python's (Unicode-aware);
- contractions are looked up after articles are dropped; keys with capitals ("Im") never match.
"""
from __future__ import annotations

import re

CONTRACTIONS: dict[str, str] = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've",
    "hasnt": "hasn't", "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've",
    "hes": "he's", "howd": "how'd", "howll": "how'll", "hows": "how's", "Id've": "I'd've",
    "I'dve": "I'd've", "Im": "I'm", "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've",
    "it'dve": "it'd've", "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've", "mustnt": "mustn't",
    "mustve": "must've", "neednt": "needn't", "notve": "not've", "oclock": "o'clock",
    "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at",
    "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've", "she's": "she's",
    "shouldve": "should've", "shouldnt": "shouldn't", "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd", "somebodyd've": "somebody'd've",
    "somebody'dve": "somebody'd've", "somebodyll": "somebody'll", "somebodys": "somebody's",
    "someoned": "someone'd", "someoned've": "someone'd've", "someone'dve": "someone'd've",
    "someonell": "someone'll", "someones": "someone's", "somethingd": "something'd",
    "somethingd've": "something'd've", "something'dve": "something'd've", "somethingll": "something'll",
    "thats": "that's", "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
    "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've", "weve": "we've",
    "werent": "weren't", "whatll": "what'll", "whatre": "what're", "whats": "what's",
    "whatve": "what've", "whens": "when's", "whered": "where'd", "wheres": "where's",
    "whereve": "where've", "whod": "who'd", "whod've": "who'd've", "who'dve": "who'd've",
    "wholl": "who'll", "whos": "who's", "whove": "who've", "whyll": "why'll", "whyre": "why're",
    "whys": "why's", "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll",
    "y'allll": "y'all'll", "yall'd've": "y'all'd've", "y'alld've": "y'all'd've",
    "y'all'dve": "y'all'd've", "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've",
    "youll": "you'll", "youre": "you're", "youve": "you've",
}
MANUAL_MAP: dict[str, str] = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}
ARTICLES: tuple[str, ...] = ("a", "an", "the")
PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
PUNCT: tuple[str, ...] = (";", r"/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-",
                          ">", "<", "@", "`", ",", "?", "!")


def process_punctuation(in_text: str) -> str:
    """VQA ``processPunctuation``::

        for p in self.punct:
            if (p + ' ' in inText or ' ' + p in inText) or (re.search(self.commaStrip, inText) != None):
                outText = outText.replace(p, '')
            else:
                outText = outText.replace(p, ' ')
        outText = self.periodStrip.sub("", outText, re.UNICODE)
    """
    out_text = in_text
    has_comma_number = COMMA_STRIP.search(in_text) is not None
    for p in PUNCT:
        if (p + " " in in_text or " " + p in in_text) or has_comma_number:
            out_text = out_text.replace(p, "")
        else:
            out_text = out_text.replace(p, " ")
    return PERIOD_STRIP.sub("", out_text, re.UNICODE)  # noqa: B034 - count=32, as the peers call it


def process_digit_article(in_text: str) -> str:
    """VQA ``processDigitArticle``: lower-case, split, number words -> digits, drop a/an/the,
    then restore apostrophes of the contractions table; joined by single spaces."""
    words = [MANUAL_MAP.get(w, w) for w in in_text.lower().split()]
    words = [w for w in words if w not in ARTICLES]
    return " ".join(CONTRACTIONS.get(w, w) for w in words)


def vqa_normalize(text: str) -> str:
    """``processDigitArticle(processPunctuation(text))``: the VQA normalisation alone."""
    return process_digit_article(process_punctuation(text))
