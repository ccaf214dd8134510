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


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    from clvmodels.persistence import write_table_atomic

    frame = pd.DataFrame({"clv": [1.0, 2.0]})

    def half_write(self, path, *args, **kwargs):
        with open(path, "w") as f:
            f.write("clv\n1.0\n")  # part of the file, then the job dies
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_write)
    target = tmp_path / "scores.csv"
    try:
        write_table_atomic(frame, target)
    except KeyboardInterrupt:
        pass
    assert list(tmp_path.iterdir()) == []


def test_bad_input_exits_2(tmp_path, capsys, monkeypatch):
    import clvmodels.cli as cli

    def bad(*args, **kwargs):
        raise cli.DataError("column 'date': 1 value(s) could not be parsed as dates")

    monkeypatch.setattr(cli, "load_cdnow", bad)
    assert cli.main(["demo", "--out", str(tmp_path / "s.csv")]) == 2
    assert "could not be parsed" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
