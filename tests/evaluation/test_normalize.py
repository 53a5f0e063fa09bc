import pytest

from pefomed.evaluation import answer_tokens, normalize_answer


@pytest.mark.parametrize("raw, expected", [
    ("Yes.", "yes"),                          # case and final period
    ("two", "2"),                             # number word -> digit
    ("Two lesions", "2 lesions"),
    ("the left lung", "left lung"),           # article dropped
    ("A mass in an organ", "mass in organ"),
    ("3.5 cm", "3.5 cm"),                     # decimal point kept
    ("3.5cm.", "3.5cm"),                      # ... but a final period is not
    ("  Left \t  Lung \n", "left lung"),      # whitespace collapsed
    ("x-ray", "x ray"),                       # hyphen splits words
    ("pulmonary/lymphatic", "pulmonary lymphatic"),
    ("yes, there is.", "yes there is"),
    ("1,000 ml", "1000 ml"),                  # thousands comma between digits removed
    ("dont", "don't"),                        # contraction gets its apostrophe
    ("Don’t", "don't"),                       # curly apostrophe straightened, kept inside word
    ("'yes'", "yes"),                         # quote marks at word edges removed
    ("on the patient's left", "on patient's left"),
    ("Supine (see air-fluid level)", "supine see air fluid level"),
    ("", ""),
    ("?!.", ""),
    ("yes\x03", "yes"),                       # control characters are separators
])
def test_normalize_hand_worked(raw, expected):
    assert normalize_answer(raw) == expected


def test_normalize_is_idempotent():
    for raw in ["The Left Lung.", "3.5 cm", "two x-rays", "dont know", "1,000"]:
        once = normalize_answer(raw)
        assert normalize_answer(once) == once


def test_answer_tokens_split_the_normalised_form():
    assert answer_tokens("The upper lobe of the LEFT lung.") == ["upper", "lobe", "of", "left", "lung"]
