import io

import pytest
from rich.console import Console

from pefomed.errors import PefomedError
from pefomed.evaluation import breakdown_table, family_table, metrics_table, score
from pefomed.evaluation.table import own_protocols, scored_families


def _render(table) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(table)
    return out.getvalue()


def _cells(text: str) -> dict[str, list[str]]:
    """First cell -> the other cells, for each body row of a rendered table."""
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines() if line.startswith("│")]
    return {r[0]: r[1:] for r in rows}


@pytest.fixture
def result(rec):
    records = [rec("a", "yes", organ="chest"), rec("b", "no", organ="chest"), rec("c", "yes", organ="head")]
    return score(records, ["yes", "yes", "yes"], protocols=["closed-lenient", "open-exact"], bootstrap=100)


def test_metrics_table_rows(result):
    table = metrics_table(result)
    assert [c.header for c in table.columns] == ["protocol", "value %", "95% CI", "n", "majority %"]
    assert table.row_count == 2
    text = _render(table)
    assert "closed-lenient" in text and "66.7" in text        # 2 of 3 right
    assert "66.7 (yes)" in text                                 # majority "yes" scores 2 of 3 too
    assert "open-exact" in text                                 # empty subset shown as "-"


def test_family_table_prints_peer_labels_and_rounding(rec):
    records = [rec("a", "yes"), rec("b", "no"), rec("c", "yes"),
               rec("o", "left lung", "open"), rec("p", "liver", "open")]
    res = score(records, ["yes", "no", "no", "Left lung.", "kidney"],
                protocols=["closed-exact", "llava-med", "pefomed-paper"], bootstrap=0)
    assert own_protocols(res) == ["closed-exact"] and scored_families(res) == ["llava-med", "pefomed-paper"]
    llava = _cells(_render(family_table(res, "llava-med")))
    # tabulate "g": 2/3*100 -> 66.6667; the pre-fix rule drops c's miss (it says "no") -> 100 of 2
    assert llava["yes/no accuracy"][:2] == ["66.6667", "3"]
    assert llava["yes/no accuracy (e9972cf)"][:2] == ["100", "2"]
    assert llava["recall"][:2] == ["50", "2"]                   # (1 + 0) / 2 open questions
    assert llava["yes/no accuracy"][3] == "66.6667 (yes)"       # majority baseline beside it
    paper = _cells(_render(family_table(res, "pefomed-paper")))
    assert paper["CLOSED"][0] == "66.67" and paper["OPEN"][0] == "50.00" and paper["Overall"][0] == "60.00"
    with pytest.raises(PefomedError, match="no protocol family 'mefv'"):
        family_table(res, "mefv")


def test_breakdown_table(result):
    text = _render(breakdown_table(result, "organ", protocols=["closed-lenient"]))
    assert "chest" in text and "50.0 (2)" in text and "100.0 (1)" in text
    with pytest.raises(PefomedError, match="no breakdown by 'modality'"):
        breakdown_table(result, "modality")
    with pytest.raises(PefomedError, match="not scored"):
        breakdown_table(result, "organ", protocols=["bleu-1"])
