"""Batch fit/score: streaming in bounded chunks, atomic output, exit codes, progress, Dask."""

import io
import os
import signal
import warnings

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels.batch import Progress, fit_file, score_file
from clvmodels.files import atomic_table_writer
from clvmodels.cli import main
from clvmodels.scoring import ModelPair
from clvmodels.streaming import StreamStats, stream_rfm

END = "1998-06-30"


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """The CDNOW master log, shuffled so customers span chunks, as CSV and Parquet."""
    folder = tmp_path_factory.mktemp("logs")
    tx = clvmodels.load_cdnow("master").sample(frac=1, random_state=7)
    tx.to_csv(folder / "master.csv", index=False)
    tx.to_parquet(folder / "master.parquet", row_group_size=10_000)
    return tx, folder


@pytest.fixture(scope="module")
def model_file(logs):
    _, folder = logs
    path = folder / "model.json"
    fit_file(folder / "master.parquet", path, observation_end=END, time_unit="W",
             quiet=True)
    return path


@pytest.mark.parametrize("name", ["master.csv", "master.parquet"])
def test_streamed_rfm_equals_the_in_memory_one(logs, name, tmp_path):
    tx, folder = logs
    with pytest.warns(clvmodels.DataQualityWarning, match="after observation end"):
        expected = clvmodels.rfm_summary(tx, amount="amount", time_unit="W",
                                         observation_end="1998-03-31")
    stats = StreamStats()
    with pytest.warns(clvmodels.DataQualityWarning, match="after observation end"):
        parts = list(stream_rfm(folder / name, observation_end="1998-03-31", time_unit="W",
                                chunk_rows=7_000, partition_rows=20_000, stats=stats,
                                spill_dir=tmp_path))
    assert stats.planned_partitions == 4 and len(parts) == 4
    got = pd.concat(parts).sort_index()
    pd.testing.assert_frame_equal(got, expected)
    assert stats.customers == len(expected) and stats.rows == len(tx)
    assert stats.excluded == expected.attrs["excluded"]
    assert list(tmp_path.iterdir()) == []  # the spill files are gone


def test_fit_file_equals_the_python_api(logs, model_file):
    tx, _ = logs
    pair = clvmodels.load(model_file)
    rfm = clvmodels.rfm_summary(tx, amount="amount", time_unit="W", observation_end=END)
    bg, gg = clvmodels.BetaGeo().fit(rfm), clvmodels.GammaGamma().fit(rfm[rfm.monetary_value > 0])
    np.testing.assert_allclose(pair.purchases.params_, bg.params_, rtol=1e-6)
    np.testing.assert_allclose(pair.spend.params_, gg.params_, rtol=1e-6)


@pytest.mark.parametrize("out_name", ["scores.parquet", "scores.csv"])
def test_score_file_equals_the_python_api(logs, model_file, tmp_path, out_name):
    tx, folder = logs
    out = tmp_path / out_name
    stats = score_file(model_file, out, transactions=folder / "master.csv", quiet=True,
                       chunk_rows=9_000, stream_options={"partition_rows": 25_000})
    assert stats.partitions == 3
    scores = (pd.read_parquet(out) if out_name.endswith("parquet") else pd.read_csv(out))
    scores = scores.set_index("customer_id").sort_index()
    assert scores.index.is_unique and len(scores) == tx.customer_id.nunique()
    pair = clvmodels.load(model_file)
    rfm = clvmodels.rfm_summary(tx, amount="amount", time_unit="W")
    expected = pair.score(rfm, horizon=12, discount_rate=0.01)
    assert list(scores.columns) == ["frequency", "recency", "T", "monetary_value",
                                    "expected_purchases", "probability_alive", "expected_spend",
                                    "clv"]
    pd.testing.assert_frame_equal(scores, expected, check_dtype=False, rtol=1e-9)
    assert [p.name for p in tmp_path.iterdir()] == [out_name]  # no temporary file left


def test_score_from_an_rfm_table(logs, model_file, tmp_path):
    tx, _ = logs
    rfm = clvmodels.rfm_summary(tx, amount="amount", time_unit="W")
    rfm.reset_index().to_parquet(tmp_path / "rfm.parquet")
    score_file(model_file, tmp_path / "s.parquet", rfm=tmp_path / "rfm.parquet", quiet=True,
               chunk_rows=5_000, time_unit="W")
    got = pd.read_parquet(tmp_path / "s.parquet").set_index("customer_id")
    expected = clvmodels.load(model_file).score(rfm)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-12)


def test_score_uses_the_bayesian_interval(cdnow, tmp_path):
    rfm = clvmodels.rfm_summary(cdnow, amount="amount", time_unit="W")
    settings = dict(draws=100, tune=100, chains=2, random_state=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pair = ModelPair(clvmodels.BayesianBetaGeo(**settings).fit(rfm),
                         clvmodels.BayesianGammaGamma(**settings).fit(rfm))
    pair.save(tmp_path / "bayes.json")
    log = tmp_path / "log.parquet"
    cdnow.to_parquet(log)
    score_file(tmp_path / "bayes.json", tmp_path / "s.csv", transactions=log, quiet=True)
    got = pd.read_csv(tmp_path / "s.csv").set_index("customer_id")
    expected = pair.score(rfm)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-9)
    assert (got["clv_lower"] <= got["clv"]).all() and (got["clv"] <= got["clv_upper"]).all()


def test_a_failure_mid_write_leaves_no_output(tmp_path):
    target = tmp_path / "scores.parquet"
    with pytest.raises(RuntimeError), atomic_table_writer(target) as write:
        write(pd.DataFrame({"clv": [1.0]}))
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content, message", [
    ("customer_id,date,amount\n1,2020-01-01,5\n1,not a date,3\n", "date"),
    ("customer_id,date,amount\n1,2020-01-01,-5\n", "negative"),
    ("customer_id,day,amount\n1,2020-01-01,5\n", "missing column"),
])
def test_bad_input_exits_2_with_one_message(tmp_path, model_file, capsys, content, message):
    log = tmp_path / "log.csv"
    log.write_text(content)
    out = tmp_path / "scores.csv"
    code = main(["score", "--model", str(model_file), "--transactions", str(log),
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert not out.exists()


def test_wrong_model_file_exits_2(tmp_path, logs, capsys):
    _, folder = logs
    bad = tmp_path / "model.json"
    bad.write_text('{"format": "clvmodels.model", "format_version": 99}')
    code = main(["score", "--model", str(bad), "--transactions", str(folder / "master.csv"),
                 "--out", str(tmp_path / "s.csv")])
    assert code == 2 and "version 99" in capsys.readouterr().err
    code = main(["score", "--model", str(tmp_path / "none.json"), "--transactions",
                 str(folder / "master.csv"), "--out", str(tmp_path / "s.csv")])
    assert code == 2


def test_fit_and_score_commands(logs, tmp_path, capsys):
    _, folder = logs
    model = tmp_path / "m.json"
    assert main(["fit", "--transactions", str(folder / "master.csv"), "--observation-end", END,
                 "--out", str(model)]) == 0
    assert "BetaGeo" in capsys.readouterr().out
    out = tmp_path / "scores.parquet"
    assert main(["score", "--model", str(model), "--transactions", str(folder / "master.csv"),
                 "--observation-end", END, "--out", str(out)]) == 0
    assert "scored 23,570 customers" in capsys.readouterr().out
    assert len(pd.read_parquet(out)) == 23_570


def test_progress_bar_on_a_terminal_and_log_lines_otherwise():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty = Terminal()
    bar = Progress(10, "scoring", stream=tty)
    bar(5)
    bar.close()
    assert "\r" in tty.getvalue() and "50%" in tty.getvalue()
    log = io.StringIO()
    lines = Progress(10, "scoring", stream=log, every=0.0)
    lines(5)
    lines(10)
    assert log.getvalue().splitlines() == [line for line in log.getvalue().splitlines()
                                          if line.startswith("scoring: ")]
    assert "\r" not in log.getvalue() and len(log.getvalue().splitlines()) == 2
    quiet = io.StringIO()
    Progress(10, "scoring", stream=quiet, quiet=True)(10)
    assert quiet.getvalue() == ""


# -- Dask ----------------------------------------------------------------------------------------

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    from clvmodels.dask_engine import start_client

    client = start_client()
    yield client
    cluster = client.cluster
    client.close()
    cluster.close()


@pytest.mark.slow
def test_dask_rfm_fit_and_scores_equal_the_local_engine(logs, cluster, tmp_path):
    import dask.dataframe as dd

    from clvmodels import dask_engine

    tx, folder = logs
    frame = dd.read_parquet(folder / "master.parquet").repartition(npartitions=6)
    rfm = dask_engine.rfm_summary(frame, observation_end=END, time_unit="W")
    local = clvmodels.rfm_summary(tx, amount="amount", time_unit="W", observation_end=END)
    got = rfm.compute().set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(got, local, check_dtype=False)
    pair = dask_engine.fit(rfm, time_unit="W")
    bg = clvmodels.BetaGeo().fit(local)
    np.testing.assert_allclose(pair.purchases.params_, bg.params_, rtol=1e-6)
    written = dask_engine.write_scores(dask_engine.score(pair, rfm), tmp_path / "s.parquet",
                                       cluster)
    scores = pd.read_parquet(tmp_path / "s.parquet").set_index("customer_id").sort_index()
    assert written == len(local) and scores.index.is_unique
    pd.testing.assert_frame_equal(scores, pair.score(local), check_dtype=False, rtol=1e-9)


@pytest.mark.slow
def test_dask_engine_survives_a_killed_worker(logs, model_file, cluster, tmp_path):
    """A worker dies mid-run: Dask reruns its tasks; every customer is written exactly once."""
    import dask.dataframe as dd

    from clvmodels import dask_engine

    tx, _ = logs
    big = pd.concat([tx.assign(customer_id=tx.customer_id + k * 100_000) for k in range(4)])
    frame = dd.from_pandas(big, npartitions=16)
    rfm = dask_engine.rfm_summary(frame, observation_end=END, time_unit="W")
    pair = clvmodels.load(model_file)
    scores = dask_engine.score(pair, rfm)

    pids = cluster.run(os.getpid)  # worker address -> process id
    killed = []

    def kill_a_worker_after_the_first_partition(done):
        if done == 1:  # mid-run: one partition written, 15 to go
            victim = min(pids)
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(victim)

    written = dask_engine.write_scores(scores, tmp_path / "s.parquet", cluster,
                                       progress=kill_a_worker_after_the_first_partition)
    assert killed
    got = pd.read_parquet(tmp_path / "s.parquet")
    assert written == len(got) == 4 * tx.customer_id.nunique()
    assert got["customer_id"].is_unique
    local = pair.score(clvmodels.rfm_summary(big, amount="amount", time_unit="W",
                                             observation_end=END))
    pd.testing.assert_frame_equal(got.set_index("customer_id").sort_index(), local,
                                  check_dtype=False, rtol=1e-9)


@pytest.mark.slow
def test_score_command_on_dask(logs, model_file, tmp_path, capsys):
    _, folder = logs
    out = tmp_path / "s.parquet"
    assert main(["score", "--model", str(model_file), "--transactions",
                 str(folder / "master.parquet"), "--out", str(out), "--engine", "dask",
                 "--quiet"]) == 0
    local = tmp_path / "local.parquet"
    assert main(["score", "--model", str(model_file), "--transactions",
                 str(folder / "master.parquet"), "--out", str(local), "--quiet"]) == 0
    a = pd.read_parquet(out).set_index("customer_id").sort_index()
    b = pd.read_parquet(local).set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)


def test_fit_with_a_calibration_end_checks_the_holdout(cdnow, tmp_path, capsys):
    """The streamed holdout check equals the in-memory calibration/holdout table (FHL 2005)."""
    log = tmp_path / "cdnow.csv"
    cdnow.to_csv(log, index=False)
    pair, check = fit_file(log, tmp_path / "m.json", calibration_end="1997-09-30",
                           observation_end=END, time_unit="W", quiet=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
        split = clvmodels.calibration_holdout(cdnow, calibration_end="1997-09-30",
                                              observation_end=END, time_unit="W")
    np.testing.assert_allclose(pair.purchases.params_, clvmodels.BetaGeo().fit(split).params_,
                               rtol=1e-6)
    # the paper's holdout table: actual 0.237 ... 6.359, expected 0.225 ... 6.157
    np.testing.assert_allclose(check["actual"], [0.237, 0.697, 1.393, 1.560, 2.532, 2.947, 3.862,
                                                 6.359], atol=5e-4)
    np.testing.assert_allclose(check["predicted"], [0.225, 0.523, 1.044, 1.520, 2.164, 2.654,
                                                    3.504, 6.157], atol=5e-4)
    assert main(["fit", "--transactions", str(log), "--calibration-end", "1997-09-30",
                 "--observation-end", END, "--out", str(tmp_path / "m2.json")]) == 0
    assert "Holdout check" in capsys.readouterr().out
