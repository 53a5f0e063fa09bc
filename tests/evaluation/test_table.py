import io

import pytest
from rich.console import Console

from pefomed.errors import PefomedError
from pefomed.evaluation import breakdown_table, metrics_table, score


def _render(table) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(table)
    return out.getvalue()


@pytest.fixture
def result(rec):
    records = [rec("a", "yes", organ="chest"), rec("b", "no", organ="chest"), rec("c", "yes", organ="head")]
    return score(records, ["yes", "yes", "yes"], protocols=["closed-accuracy", "open-exact"], bootstrap=100)


def test_metrics_table_rows(result):
    table = metrics_table(result)
    assert [c.header for c in table.columns] == ["protocol", "value %", "95% CI", "n"]
    assert table.row_count == 2
    text = _render(table)
    assert "closed-accuracy" in text and "66.7" in text        # 2 of 3 right
    assert "open-exact" in text                                 # empty subset shown as "-"


def test_breakdown_table(result):
    text = _render(breakdown_table(result, "organ", protocols=["closed-accuracy"]))
    assert "chest" in text and "50.0 (2)" in text and "100.0 (1)" in text
    with pytest.raises(PefomedError, match="no breakdown by 'modality'"):
        breakdown_table(result, "modality")
    with pytest.raises(PefomedError, match="not scored"):
        breakdown_table(result, "organ", protocols=["bleu-1"])
