import pandas as pd

from clvmodels.cli import main


def test_demo_prints_and_writes_scores(tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["demo", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Holdout check" in text and "std_error" in text and "Top 10 customers" in text
    scores = pd.read_csv(out, index_col="customer_id")
    assert len(scores) == 2357
    assert {"probability_alive", "expected_purchases", "expected_spend", "clv"} <= set(scores)
    top = text.split("Top 10 customers")[1].splitlines()[3].split()[0]
    assert int(top) == scores["clv"].idxmax()
