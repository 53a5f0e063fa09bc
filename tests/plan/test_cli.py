"""`pefomed plan` refusals: methods a model without weights cannot take."""
from __future__ import annotations


def test_methods_that_need_weights_are_refused_in_one_line():
    from click.testing import CliRunner

    from pefomed.cli import main

    for method in ("prefix", "prompt"):
        result = CliRunner().invoke(main, ["plan", "tiny-llava", "--adapter", method])
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith(f"error: {method} cannot be planned yet: ")
