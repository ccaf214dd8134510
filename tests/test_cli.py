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
    from clvmodels.files import write_table_atomic

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
    from clvmodels import cli

    def bad(*args, **kwargs):
        raise cli.DataError("column 'date': 1 value(s) could not be parsed as dates")

    monkeypatch.setattr(cli, "load_cdnow", bad)
    assert cli.main(["demo", "--out", str(tmp_path / "s.csv")]) == 2
    assert "could not be parsed" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_backtest_command_writes_tables_and_report(cdnow, tmp_path, capsys):
    log = tmp_path / "log.csv"
    cdnow.to_csv(log, index=False)
    out = tmp_path / "bt"
    code = main(["backtest", "--transactions", str(log), "--calibration-end", "1997-09-30",
                 "--observation-end", "1998-06-30", "--methods", "bgnbd_gg", "run_rate",
                 "cohort_average", "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out / "metrics.csv")
    assert table["method"].tolist() == ["bgnbd_gg", "run_rate", "cohort_average"]
    assert {"purchases_mae", "purchases_rmse", "purchases_bias_pct", "spend_mae", "spend_bias_pct",
            "spearman", "top_decile_capture", "alive_auc"} <= set(table)
    assert len(pd.read_parquet(out / "predictions.parquet")) == 3 * 2357
    report = (out / "report.md").read_text()
    assert "## Who wins" in report and (out / "lift_spend.png").stat().st_size > 10_000
    assert "wrote metrics.csv" in capsys.readouterr().out


def test_backtest_command_bad_log_exits_2(tmp_path, capsys):
    log = tmp_path / "log.csv"
    pd.DataFrame({"customer_id": [1], "when": ["2020-01-01"]}).to_csv(log, index=False)
    code = main(["backtest", "--transactions", str(log), "--calibration-end", "2020-06-30",
                 "--observation-end", "2020-12-31", "--out", str(tmp_path / "bt")])
    assert code == 2
    assert "date" in capsys.readouterr().err
    assert not (tmp_path / "bt").exists()
