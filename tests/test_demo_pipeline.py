"""What ``iqabench demo`` prints last: Table 1 and Table 2 in a few aligned lines, then the report path."""

from __future__ import annotations

from iqabench.results import Result


def _result(protocol: str, name: str, summary: dict) -> Result:
    return Result(protocol=protocol, config={}, methods=[{"name": name.split()[0].lower(), "display_name": name}],
                  datasets=[], summary=summary)


def test_headline_table_lists_table1_medians_and_table2_pairs():
    from iqabench.cli.demo_pipeline import headline_table

    within = [
        _result("within_dataset", "ARNIQA [demo config]", {"srcc": 0.6123, "plcc": 0.64}),
        _result("within_dataset", "BRISQUE", {"srcc": 0.5577, "plcc": float("nan")}),
    ]
    matrix = {"demo-a": {"demo-a": None, "demo-b": 0.21}, "demo-b": {"demo-a": -0.05, "demo-b": None}}
    cross = [_result("cross_dataset", "BRISQUE", {"srcc_matrix": matrix})]
    lines = headline_table(within, cross).splitlines()

    assert lines[0].startswith("Table 1: within_dataset on demo")
    assert lines[2].split() == ["ARNIQA", "[demo", "config]", "0.612", "0.640"]
    assert lines[3].split() == ["BRISQUE", "0.558", "—"]  # a missing number is a dash, never "nan"
    assert lines[4].startswith("Table 2: cross_dataset SRCC")
    assert lines[5].split() == ["method", "demo-a→demo-b", "demo-b→demo-a"]
    assert lines[6].split() == ["BRISQUE", "0.210", "-0.050"]
    # Columns line up: every number column ends at the same place in its table.
    assert len({len(line) for line in lines[1:4]}) == 1 and len({len(line) for line in lines[5:7]}) == 1


def test_headline_table_without_results_is_empty():
    from iqabench.cli.demo_pipeline import headline_table

    assert headline_table([], []) == ""
