"""The VQA-eval normalisation alone (processPunctuation + processDigitArticle, as in
jinlHe/PeFoMed@5242449 pefomed/common/vqa_tools/vqa_eval.py)."""
import pytest

from pefomed.evaluation.peers import vqa as V
from pefomed.evaluation.peers.vqa_text import process_digit_article, process_punctuation


def test_process_punctuation_deletes_or_spaces_by_the_whole_text():
    assert process_punctuation("R/L") == "R L"         # no '/ ' or ' /' anywhere -> replaced by ' '
    assert process_punctuation("R/L /") == "RL "       # ' /' occurs -> every '/' deleted
    assert process_punctuation("(3,5) mm") == "35 mm"  # commaStrip: every punct mark deleted
    assert process_punctuation("a.b. 2.5") == "ab 2.5"
    assert process_punctuation("." * 33) == "."        # count=32 (re.UNICODE as the 3rd argument)


def test_process_digit_article():
    assert process_digit_article("The THREE Cysts an a") == "3 cysts"
    assert process_digit_article("isnt   it") == "isn't it"
    assert process_digit_article("Im") == "im"          # key "Im" never matches after lower()


@pytest.mark.parametrize("pred, ref, hit", [
    ("R.U.Q.", "ruq", 1.0), ("the two kidneys", "2 kidneys", 1.0), ("Yes!", "yes", 1.0),
    ("X-ray", "xray", 0.0),          # no 'x ray' rewrite here (that is PeFoMed's addition)
    ("caf\u00e9", "cafe", 0.0), ("  yes\n", "yes", 1.0), ("", "", 1.0), ("yes, there is", "yes", 0.0),
])
def test_exact(pred, ref, hit):
    assert V.exact(pred, ref) == hit
