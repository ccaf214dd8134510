"""The catalogue of bad, hostile and extreme inputs and faults: each case checks the exact
outcome, the right number or a one-line refusal that names the column or file, the rule, the
first offender with its row, and the fix. Nothing silently wrong, no traceback, nothing left
behind. The README's "Bad input" table summarises it."""

import json
import os
import re
import signal
import warnings

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels import ConvergenceError, DataError, ModelFormatError
from clvmodels.cli import main
from clvmodels.data import check_rfm

END = "1998-06-30"


def tx(**columns) -> pd.DataFrame:
    base = {"customer_id": [1, 1, 2], "date": ["2020-01-01", "2020-02-01", "2020-01-05"],
            "amount": [10.0, 5.0, 3.0]}
    base.update(columns)
    return pd.DataFrame(base)


def rfm_of(frame, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
        return clvmodels.rfm_summary(frame, **options)


def days(rfm, customer):
    return rfm.loc[customer, "T"]


# ---------------------------------------------------------------------------------------------
# 1. data read through the Python API: the right number, or a DataError with row and fix

RIGHT = [
    # yyyymmdd integers are dates, not nanoseconds since 1970 (T was 0 for everyone)
    ("yyyymmdd integers", dict(date=[20200101, 20200201, 20200105]), {1: 31, 2: 27}),
    ("yyyymmdd text", dict(date=["20200101", "20200201", "20200105"]), {1: 31, 2: 27}),
    # a day above 12 settles day-first for the whole column
    ("day first", dict(date=["01/01/2020", "01/02/2020", "13/01/2020"]), {1: 31, 2: 19}),
    ("month first", dict(date=["01/01/2020", "02/01/2020", "01/13/2020"]), {1: 31, 2: 19}),
    ("year first with slashes", dict(date=["2020/01/01", "2020/02/01", "2020/01/05"]),
     {1: 31, 2: 27}),
    # offsets that differ row to row (daylight saving time): each on its local date
    ("mixed UTC offsets", dict(date=["2020-01-01T23:30:00-05:00", "2020-02-01T00:30:00+02:00",
                                     "2020-01-05T12:00:00+01:00"]), {1: 31, 2: 27}),
    # an ISO date ending in -30 is not an offset to strip (a regression found on the way)
    ("ISO date ending in a day that looks like an offset",
     dict(date=["2020-01-01", "2020-01-30", "2020-01-02"]), {1: 29, 2: 28}),
    ("dates with times", dict(date=["2020-01-01 23:59", "2020-02-01 00:01", "2020-01-05 12:00"]),
     {1: 31, 2: 27}),
    ("datetime objects in different zones", dict(date=[
        pd.Timestamp("2020-01-01 23:30", tz="America/New_York").to_pydatetime(),
        pd.Timestamp("2020-02-01 00:30", tz="Europe/Berlin").to_pydatetime(),
        pd.Timestamp("2020-01-05 12:00", tz="UTC").to_pydatetime()]), {1: 31, 2: 27}),
]


@pytest.mark.parametrize("name,change,expected", RIGHT, ids=[r[0] for r in RIGHT])
def test_dates_are_read_right(name, change, expected):
    rfm = rfm_of(tx(**change), amount="amount")
    assert {c: days(rfm, c) for c in expected} == expected


def test_an_explicit_date_format_reads_ambiguous_dates():
    rfm = rfm_of(tx(date=["05/01/2020", "05/02/2020", "06/01/2020"]), date_format="%d/%m/%Y")
    assert days(rfm, 1) == 31 and days(rfm, 2) == 30  # 5 Jan-5 Feb; 6 Jan-5 Feb


REFUSED = [
    ("ambiguous day/month", dict(date=["05/01/2020", "06/01/2020", "07/01/2020"]),
     r"column 'date': dates such as '05/01/2020' \(on row 0\) read both as day/month and as "
     r"month/day.*date_format= '%d/%m/%Y'"),
    ("day/month orders mixed", dict(date=["13/01/2020", "01/13/2020", "01/01/2020"]),
     r"mixes day-first and month-first dates \('13/01/2020' on row 0, '01/13/2020' on row 1\)"),
    ("epoch seconds", dict(date=[1577836800, 1580515200, 1578182400]),
     r"3 value\(s\) are numbers but not yyyymmdd dates \(first: 1577836800 at row 0\)"),
    ("fractional numbers as dates", dict(date=[20200101.5, 20200102.0, 20200103.0]),
     r"not whole numbers, so not dates \(first: 20200101.5 at row 0\)"),
    ("a date that is not one", dict(date=["2020-01-01", "2020-13-45", "2020-01-05"]),
     r"1 value\(s\) could not be parsed as dates .*\(first: '2020-13-45' at row 1\)"),
    ("text that is no date format", dict(date=["soon", "later", "never"]),
     r"'soon' \(on row 0\) is not a date format clvmodels recognises; pass date_format="),
    ("a missing date", dict(date=["2020-01-01", None, "2020-01-05"]),
     r"1 row\(s\) have no date \(first: (None|nan) at row 1\)"),
    ("a fractional id", dict(customer_id=[1.0, 1.5, 2.0]),
     r"column 'customer_id': 1 id\(s\) are not whole numbers \(first: 1.5 at row 1\)"),
    ("true/false ids", dict(customer_id=[True, False, True]),
     r"column 'customer_id' holds true/false values.*customer= the right column"),
    ("a missing id", dict(customer_id=["a", None, "b"]),
     r"1 row\(s\) have no customer id \(first: (None|nan) at row 1\)"),
    ("an empty id", dict(customer_id=["a", "", "b"]), r"1 id\(s\) are empty text"),
    ("an amount with a currency sign", dict(amount=[10.0, "$5", 3.0]),
     r"column 'amount': 1 amount\(s\) are missing, not numbers, or infinite \(first: '\$5' at "
     r"row 1\)"),
    ("an infinite amount", dict(amount=[10.0, np.inf, 3.0]), r"\(first: inf at row 1\)"),
    ("true/false amounts", dict(amount=[True, False, True]), r"holds true/false values, not amounts"),
    ("a refund", dict(amount=[10.0, -5.0, 3.0]),
     r"1 negative amount\(s\) \(first: -5.0 at row 1\).*negative_amounts='drop'"),
    ("amounts whose sum overflows", dict(customer_id=[1, 1, 1], amount=[1e308, 1e308, 1e308]),
     r"add up beyond the largest number a float holds \(first: 1\)"),
]


@pytest.mark.parametrize("name,change,message", REFUSED, ids=[r[0] for r in REFUSED])
def test_bad_columns_are_refused_with_row_and_fix(name, change, message):
    with pytest.raises(DataError, match=message):
        rfm_of(tx(**change), amount="amount")


def test_rows_of_a_labelled_frame_are_named_by_label():
    frame = tx(amount=[10.0, "x", 3.0]).set_axis(["r1", "r2", "r3"])
    with pytest.raises(DataError, match=r"\(first: 'x' at index 'r2'\)"):
        rfm_of(frame, amount="amount")


def test_one_and_text_one_are_one_customer():
    rfm = rfm_of(tx(customer_id=[1, "1", 2]), amount="amount")
    assert rfm.index.tolist() == ["1", "2"] and rfm.loc["1", "frequency"] == 1


def test_csv_ids_keep_their_zeros_and_stay_apart(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("customer_id,date,amount\n007,2020-01-01,1\n7,2020-01-02,1\n007,2020-01-09,2\n")
    rfm = rfm_of(path, amount="amount")
    assert rfm.index.tolist() == ["007", "7"] and rfm.loc["007", "frequency"] == 1


def test_csv_ids_that_are_all_integers_are_integers(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("customer_id,date\n10,2020-01-01\n9,2020-01-02\n")
    assert rfm_of(path).index.tolist() == [9, 10]


def test_lines_of_a_csv_file_are_named_as_in_an_editor(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("customer_id,date\n1,2020-01-01\n2,2020-01-02\n3,not a date\n")
    with pytest.raises(DataError, match=r"column 'date' of '.*log.csv'.*'not a date' at line 4"):
        rfm_of(path)


@pytest.mark.parametrize("kwargs,message", [
    (dict(observation_end="05/01/2020"), r"observation_end='05/01/2020' is not a date: write "
                                         r"it as YYYY-MM-DD"),
    (dict(observation_end="yesterday"), r"observation_end='yesterday' is not a date"),
    (dict(customer="date"), r"must name different columns"),
    (dict(freq="fortnight"), r"freq='fortnight': freq must be one of"),
    (dict(time_unit="fortnight"), r"time_unit='fortnight': the time unit must be one of"),
], ids=["ambiguous observation end", "relative observation end", "one column twice",
        "unknown freq", "unknown time unit"])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(DataError, match=message):
        rfm_of(tx(), **kwargs)


def test_calibration_end_after_observation_end():
    with pytest.raises(DataError, match=r"observation_end='2020-01-01' must be after "
                                        r"calibration_end='2020-02-01'"):
        clvmodels.calibration_holdout(tx(), calibration_end="2020-02-01",
                                      observation_end="2020-01-01")


def test_a_semicolon_csv_needs_its_separator(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("customer_id;date\n1;2020-01-01\n1;2020-01-03\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['customer_id', 'date'\].*"
                                        r"columns present: \['customer_id;date'\]"):
        rfm_of(path)
    assert rfm_of(path, sep=";").loc[1, "frequency"] == 1


# ---------------------------------------------------------------------------------------------
# 2. files that are not what they claim


def test_a_folder_is_not_a_file(tmp_path):
    (tmp_path / "log.csv").mkdir()
    with pytest.raises(DataError, match=r"is a folder, not a file"):
        rfm_of(tmp_path / "log.csv")


@pytest.mark.parametrize("name,content", [("log.parquet", b"PAR1 not really" * 10),
                                          ("log.csv.gz", b"\x1f\x8b\x08 broken gzip")])
def test_corrupt_files_are_named(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=rf"could not read '.*{re.escape(name)}'.*uncorrupted"):
        rfm_of(tmp_path / name)


def test_unknown_file_type(tmp_path):
    (tmp_path / "log.xlsx").write_bytes(b"x")
    with pytest.raises(DataError, match=r"unknown file type .*use .csv"):
        rfm_of(tmp_path / "log.xlsx")


def test_a_file_that_is_not_utf8(tmp_path):
    (tmp_path / "log.csv").write_bytes("customer_id,date\nJos\xe9,2020-01-01\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"it is not UTF-8 text .* save it as UTF-8"):
        rfm_of(tmp_path / "log.csv")


def test_categorical_ids_are_their_values():
    rfm = rfm_of(tx(customer_id=pd.Categorical(["b", "b", "a"])))
    assert rfm.index.tolist() == ["a", "b"] and rfm.loc["b", "frequency"] == 1


def test_an_observation_end_before_every_transaction():
    with pytest.raises(DataError, match=r"no transactions are left after the exclusions \(3 "
                                        r"after observation end\): is observation_end before"):
        rfm_of(tx(), observation_end="2019-01-01")


def test_a_header_only_log_is_empty(tmp_path):
    (tmp_path / "log.csv").write_text("customer_id,date\n")
    with pytest.raises(DataError, match="empty"):
        rfm_of(tmp_path / "log.csv")


def test_a_parquet_log_saved_with_its_index(tmp_path):
    tx().set_index("customer_id").to_parquet(tmp_path / "log.parquet")
    assert rfm_of(tmp_path / "log.parquet").loc[1, "frequency"] == 1


# ---------------------------------------------------------------------------------------------
# 3. RFM frames


def frame(**columns):
    base = {"frequency": [1.0, 0.0], "recency": [3.0, 0.0], "T": [5.0, 4.0]}
    base.update(columns)
    return pd.DataFrame(base, index=pd.Index(columns.pop("index", [10, 11]) if False else [10, 11]))


@pytest.mark.parametrize("rfm,message", [
    (pd.DataFrame({"frequency": [1, 2], "recency": [1.0, 2], "T": [3.0, 3]}, index=[7, 7]),
     r"1 repeated customer id\(s\) \(first: 7\)"),
    (pd.DataFrame({"frequency": [1, 2], "recency": [1.0, 2], "T": [3.0, 3]}, index=[7, None]),
     r"index \(the customer ids\) has missing values"),
    (pd.DataFrame({"frequency": [1, 2], "recency": [4.0, 2], "T": [3.0, 3]}, index=[7, 8]),
     r"recency must be <= T; 1 customer\(s\) violate this \(first: 7\)"),
    (pd.DataFrame({"frequency": [1, np.nan], "recency": [1.0, 2], "T": [3.0, 3]}, index=[7, 8]),
     r"frequency must be a finite number.*\(first: 8\)"),
    (pd.DataFrame({"frequency": [1.5, 1], "recency": [1.0, 2], "T": [3.0, 3]}, index=[7, 8]),
     r"frequency must be a whole number"),
], ids=["repeated id", "missing id", "recency beyond T", "NaN frequency", "fractional frequency"])
def test_bad_rfm_frames(rfm, message):
    with pytest.raises(DataError, match=message):
        check_rfm(rfm)
    with pytest.raises(DataError, match=message):
        clvmodels.BetaGeo().fit(rfm)


# ---------------------------------------------------------------------------------------------
# 4. numerics: extreme but legal parameters, degenerate fits, settings


def test_extreme_bgnbd_parameters_give_tiny_positive_purchases(fitted, cdnow_calibration):
    bg = clvmodels.BetaGeo()
    bg.params_ = pd.Series({"r": 0.5, "alpha": 1e10, "a": 1.5, "b": 1e8})
    bg.time_unit_, bg.n_customers_ = "W", 1
    got = bg.expected_purchases(cdnow_calibration, 52)
    # alpha so large that the rate is r / alpha per week: E ~ (r + x) t / (alpha + T), to 1e-6
    x, T = cdnow_calibration["frequency"], cdnow_calibration["T"]
    np.testing.assert_allclose(got, (0.5 + x) * 52 / (1e10 + T), rtol=1e-6)


def test_gamma_gamma_refuses_an_infinite_mean(cdnow_calibration):
    gg = clvmodels.GammaGamma()
    gg.params_ = pd.Series({"p": 1e-8, "q": 1e-8, "v": 1e-8})
    gg.time_unit_, gg.n_customers_ = "W", 1
    with pytest.raises(DataError, match=r"expected spend is infinite for 2,357 customer\(s\).*"
                                        r"needs p x \+ q > 1"):
        gg.expected_spend(cdnow_calibration)


def test_a_heavy_tailed_spend_fit_warns():
    rng = np.random.default_rng(0)
    rfm = pd.DataFrame({"frequency": rng.integers(1, 3, 2000).astype(float),
                        "monetary_value": np.exp(rng.normal(0, 4, 2000))})
    with pytest.warns(clvmodels.DataQualityWarning, match=r"q = 0\.3\d* <= 1"):
        gg = clvmodels.GammaGamma().fit(rfm)
    with pytest.raises(DataError, match="infinite"):
        gg.expected_spend(rfm.assign(frequency=0.0, monetary_value=0.0))


@pytest.mark.parametrize("customers", [1, 2])
def test_a_fit_on_one_or_two_customers_is_not_a_number(customers):
    rfm = pd.DataFrame({"frequency": [2, 0][:customers], "recency": [5.0, 0][:customers],
                        "T": [10.0, 8][:customers]})
    with pytest.raises(ConvergenceError, match=r"do not identify the parameters.*penalizer"):
        clvmodels.BetaGeo().fit(rfm, time_unit="W")
    assert np.isfinite(clvmodels.BetaGeo(penalizer=0.01).fit(rfm, time_unit="W").params_).all()


def test_zero_discount_is_the_undiscounted_sum(fitted, cdnow_calibration):
    bg, gg = fitted
    value = clvmodels.customer_value(bg, gg, cdnow_calibration, horizon=12, discount_rate=0)
    t = 12 * 365.25 / 12 / 7
    expected = bg.expected_purchases(cdnow_calibration, t) * gg.expected_spend(cdnow_calibration)
    np.testing.assert_allclose(value, expected, rtol=1e-10)


@pytest.mark.parametrize("kwargs,message", [
    (dict(discount_rate=-0.5), r"discount_rate=-0.5: the discount rate must be a rate per "
                               r"period >= 0"),
    (dict(horizon=1e5), r"horizon=100000.0: the horizon must be a number of periods from 0 to "
                        r"10,000"),
    (dict(horizon=np.nan), r"horizon=nan"),
    (dict(margin=np.nan), r"margin=nan"),
    (dict(discounting="daily"), r"discounting='daily': use one of"),
], ids=["negative rate", "unbounded horizon", "NaN horizon", "NaN margin", "unknown discounting"])
def test_bad_value_settings(fitted, cdnow_calibration, kwargs, message):
    with pytest.raises(DataError, match=message):
        clvmodels.customer_value(*fitted, cdnow_calibration, **kwargs)


def test_a_long_horizon_runs_in_bounded_memory(fitted, cdnow_calibration):
    import tracemalloc

    tracemalloc.start()
    value = clvmodels.customer_value(*fitted, cdnow_calibration, horizon=10_000, period="D")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.isfinite(value).all() and (value >= 0).all()
    assert peak < 400 * 2**20


@pytest.mark.parametrize("t", [-1, np.nan, "soon"])
def test_bad_horizons_of_a_prediction(fitted, cdnow_calibration, t):
    with pytest.raises(DataError, match="horizon t"):
        fitted[0].expected_purchases(cdnow_calibration, t)


# ---------------------------------------------------------------------------------------------
# 5. model files


@pytest.fixture()
def pair_file(fitted, tmp_path):
    path = tmp_path / "model.json"
    clvmodels.ModelPair(*fitted).save(path)
    return path


def edit(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("change,message", [
    (lambda d: d["purchases"]["params"].update(r=float("nan")),
     r"BetaGeo model file's parameter r is nan, not a finite number"),
    (lambda d: d["spend"]["params"].update(q=-1.0), r"parameter q is -1.0"),
    (lambda d: d["purchases"]["params"].update(alpha=float("inf")), r"parameter alpha is inf"),
    (lambda d: d.update(purchases=d["spend"], spend=d["purchases"]),
     r"the 'purchases' model of this pair file is a 'GammaGamma', which is not a purchases model"),
    (lambda d: d["purchases"].update(time_unit="fortnights"), r"unknown time unit 'fortnights'"),
    (lambda d: d.update(format_version=99), r"format version 99 is not supported"),
    (lambda d: d.pop("spend"), r"the model pair file has no 'spend' model"),
    (lambda d: d["purchases"]["params"].update(r="0.25"), r"parameter r is '0.25', not a finite"),
    (lambda d: d["purchases"]["params"].update(b=True), r"parameter b is True, not a finite"),
    (lambda d: d["purchases"]["params"].update(extra=1.0),
     r"parameter 'extra' is not one of this model's"),
    (lambda d: d["purchases"]["params"].pop("a"), r"it lacks parameter 'a'"),
    (lambda d: d["purchases"]["params"].update(r=1e300), r"parameter r is 1e\+300"),
    (lambda d: d["purchases"].update(covariance=[[1.0]]), r"covariance is not 4 x 4"),
    (lambda d: d["purchases"].update(log_likelihood="high"), r"log_likelihood is 'high'"),
], ids=["NaN parameter", "negative parameter", "infinite parameter", "swapped models",
        "unknown unit", "future version", "missing model", "text parameter", "boolean parameter",
        "extra parameter", "missing parameter", "absurd parameter", "covariance shape",
        "text log-likelihood"])
def test_damaged_model_files_are_refused(pair_file, change, message):
    edit(pair_file, change)
    with pytest.raises(ModelFormatError, match=message):
        clvmodels.load(pair_file)


@pytest.mark.parametrize("content,message", [
    (os.urandom(2000) + b"\xff", r"not a model file: it is not text"),
    (b"[" * 100_000 + b"]" * 100_000, r"nested too deeply"),
    (b"[1, 2, 3]", r"holds no JSON object"),
    (b"{\"format\": ", r"is not a JSON model file"),
], ids=["random bytes", "deep nesting", "a list", "truncated"])
def test_files_that_are_not_models(tmp_path, content, message):
    path = tmp_path / "model.json"
    path.write_bytes(content)
    with pytest.raises(ModelFormatError, match=message):
        clvmodels.load(path)


def test_a_huge_model_file_is_not_read(tmp_path):
    path = tmp_path / "model.json"
    with open(path, "wb") as f:
        f.truncate(20 * 2**20)  # sparse: no disk used
    with pytest.raises(ModelFormatError, match=r"20 MiB, far larger than a model file"):
        clvmodels.load(path)


def test_swapped_models_in_python(fitted):
    with pytest.raises(DataError, match=r"ModelPair\(purchases=...\) needs a purchases model"):
        clvmodels.ModelPair(fitted[1], fitted[0])


# ---------------------------------------------------------------------------------------------
# 6. the command line: exit 2 with one line that names the flag; nothing left behind


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    log = clvmodels.load_cdnow()
    log.to_parquet(folder / "log.parquet")
    log.drop(columns="amount").to_csv(folder / "no_amounts.csv", index=False)
    assert main(["fit", "--transactions", str(folder / "log.parquet"), "--observation-end", END,
                 "--time-unit", "W", "--out", str(folder / "model.json"), "--quiet"]) == 0
    return folder


def run(argv, capsys):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def one_line(err):
    lines = [line for line in err if "error" in line]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("flags,message", [
    (["--horizon", "-5"], r"argument --horizon: '-5': the horizon must be a number of months > 0"),
    (["--horizon", "nan"], r"argument --horizon: 'nan'"),
    (["--discount-rate", "-1.5"], r"argument --discount-rate: '-1.5': the discount rate must be"),
    (["--discount-rate", "abc"], r"argument --discount-rate: 'abc' is not a number"),
])
def test_bad_numbers_on_the_command_line(cli_files, tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_:
        main(["score", "--model", str(cli_files / "model.json"), "--transactions",
              str(cli_files / "log.parquet"), "--out", str(tmp_path / "s.csv"), *flags])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]) and "--help" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_cli_messages_name_flags_not_arguments(cli_files, tmp_path, capsys):
    log = tmp_path / "log.csv"
    log.write_text("cust,date,amount\n1,05/01/2020,1\n1,06/01/2020,2\n")
    code, err = run(["score", "--model", cli_files / "model.json", "--transactions", log,
                     "--out", tmp_path / "s.csv"], capsys)
    assert code == 2 and "--customer-col" in one_line(err) and "customer=" not in one_line(err)
    code, err = run(["score", "--model", cli_files / "model.json", "--transactions", log,
                     "--customer-col", "cust", "--out", tmp_path / "s.csv"], capsys)
    assert code == 2 and "--date-format '%d/%m/%Y'" in one_line(err)
    assert "date_format=" not in one_line(err)
    code, _ = run(["score", "--model", cli_files / "model.json", "--transactions", log,
                   "--customer-col", "cust", "--date-format", "%d/%m/%Y", "--out",
                   tmp_path / "s.csv"], capsys)
    assert code == 0 and pd.read_csv(tmp_path / "s.csv")["T"].iloc[0] == pytest.approx(1 / 7)


def test_backtest_ends_that_do_not_pair(cli_files, tmp_path, capsys):
    code, err = run(["backtest", "--transactions", cli_files / "log.parquet",
                     "--calibration-end", "1997-06-30", "1997-09-30", "--observation-end",
                     "1997-12-31", "1998-03-31", END, "--out", tmp_path / "bt"], capsys)
    assert code == 2 and re.search(r"3 values of --observation-end for 2 of --calibration-end",
                                   one_line(err))
    assert not (tmp_path / "bt").exists()


def test_score_an_rfm_table_saved_the_natural_way(cli_files, tmp_path, capsys):
    rfm = rfm_of(cli_files / "log.parquet", amount="amount", time_unit="W")
    rfm.to_parquet(tmp_path / "rfm.parquet")  # the customer id is the index; the unit recorded
    code, _ = run(["score", "--model", cli_files / "model.json", "--rfm",
                   tmp_path / "rfm.parquet", "--out", tmp_path / "s.parquet"], capsys)
    assert code == 0 and len(pd.read_parquet(tmp_path / "s.parquet")) == len(rfm)


def test_an_rfm_csv_needs_its_time_unit(cli_files, tmp_path, capsys):
    rfm = rfm_of(cli_files / "log.parquet", amount="amount", time_unit="D")
    rfm.to_csv(tmp_path / "rfm.csv")
    code, err = run(["score", "--model", cli_files / "model.json", "--rfm", tmp_path / "rfm.csv",
                     "--out", tmp_path / "s.csv"], capsys)
    assert code == 2 and "records no time unit: give --time-unit W" in one_line(err)
    code, err = run(["score", "--model", cli_files / "model.json", "--rfm", tmp_path / "rfm.csv",
                     "--time-unit", "D", "--out", tmp_path / "s.csv"], capsys)
    assert code == 2 and "model was fitted in 'W'" in one_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rfm.csv"]


def test_a_repeated_customer_in_an_rfm_file(cli_files, tmp_path, capsys):
    from clvmodels.batch import score_file

    rfm = rfm_of(cli_files / "log.parquet", amount="amount", time_unit="W").reset_index()
    pd.concat([rfm, rfm.iloc[[5]]]).to_csv(tmp_path / "rfm.csv", index=False)
    code, err = run(["score", "--model", cli_files / "model.json", "--rfm", tmp_path / "rfm.csv",
                     "--time-unit", "W", "--out", tmp_path / "s.csv"], capsys)
    assert code == 2 and "1 repeated customer id(s) (first: 6)" in one_line(err)
    with pytest.raises(DataError, match=r"customer id 6 on line 2,359 of .* appears on an "
                                        r"earlier row too"):  # in another chunk of the file
        score_file(cli_files / "model.json", tmp_path / "s.csv", rfm=tmp_path / "rfm.csv",
                   time_unit="W", chunk_rows=1000, quiet=True)
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_output_to_a_fifo_or_device_is_refused(cli_files, tmp_path, capsys):
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    for target in (fifo, "/dev/null"):
        code, err = run(["score", "--model", cli_files / "model.json", "--transactions",
                         cli_files / "log.parquet", "--out", target], capsys)
        assert code == 2 and "not a regular file" in one_line(err) and "--out" in one_line(err)
    assert os.path.exists(fifo) and not os.path.isfile(fifo)


def test_output_permissions_follow_the_umask(cli_files, tmp_path, capsys):
    old = os.umask(0o027)
    try:
        code, _ = run(["score", "--model", cli_files / "model.json", "--transactions",
                       cli_files / "log.parquet", "--out", tmp_path / "s.csv", "--quiet"], capsys)
    finally:
        os.umask(old)
    assert code == 0 and (os.stat(tmp_path / "s.csv").st_mode & 0o777) == 0o640


def test_formula_ids_are_escaped_in_csv_only(fitted, tmp_path):
    from clvmodels.files import atomic_table_writer

    scores = pd.DataFrame({"customer_id": ["=1+1", "+cmd", "-2", "@x", "ok"], "clv": [1.0] * 5})
    with atomic_table_writer(tmp_path / "s.csv") as write:
        write(scores)
    assert pd.read_csv(tmp_path / "s.csv")["customer_id"].tolist() == [
        "'=1+1", "'+cmd", "'-2", "'@x", "ok"]
    with atomic_table_writer(tmp_path / "s.parquet") as write:
        write(scores)
    assert pd.read_parquet(tmp_path / "s.parquet")["customer_id"].tolist() == scores[
        "customer_id"].tolist()


def test_stale_temporaries_of_killed_runs_are_removed(cli_files, tmp_path, capsys):
    dead = 2**22 + 12345  # beyond pid_max: no such process
    (tmp_path / f".tmp-clvmodels-{dead}-abc-s.csv").write_text("half")
    (tmp_path / f".tmp-clvmodels-{os.getppid()}-abc-s.csv").write_text("a live run's")
    (tmp_path / "keep.txt").write_text("mine")
    code, _ = run(["score", "--model", cli_files / "model.json", "--transactions",
                   cli_files / "log.parquet", "--out", tmp_path / "s.csv", "--quiet"], capsys)
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f".tmp-clvmodels-{os.getppid()}-abc-s.csv", "keep.txt", "s.csv"])


def test_sigterm_leaves_nothing_behind(cli_files, tmp_path, capsys, monkeypatch):
    import tempfile

    spill = tmp_path / "tmp"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    out = tmp_path / "out"
    out.mkdir()

    def terminated(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # as a scheduler stops the job, mid-score
        raise AssertionError("SIGTERM did not stop the run")

    monkeypatch.setattr(clvmodels.ModelPair, "score", terminated)
    code, err = run(["score", "--model", cli_files / "model.json", "--transactions",
                     cli_files / "log.parquet", "--out", out / "s.parquet", "--quiet"], capsys)
    assert code == 143 and "terminated; no output was written" in err[-1]
    assert list(out.iterdir()) == [] and list(spill.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is not None


def test_streamed_ids_numeric_in_one_chunk_text_in_another(fitted, tmp_path):
    from clvmodels.batch import score_file

    rows = [(i, f"2020-01-{1 + i % 20:02d}", 1.0) for i in range(50)] + [("A1", "2020-01-03", 2.0)]
    rows += [(3, "2020-01-25", 5.0)]  # customer 3 again, after "A1"
    pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).to_csv(tmp_path / "log.csv",
                                                                          index=False)
    pair = clvmodels.ModelPair(*fitted)
    score_file(pair, tmp_path / "s.parquet", transactions=tmp_path / "log.csv", quiet=True,
               chunk_rows=20, stream_options={"partition_rows": 10}, time_unit="W")
    scores = pd.read_parquet(tmp_path / "s.parquet")
    assert scores["customer_id"].is_unique and len(scores) == 51
    assert scores.set_index("customer_id").loc["3", "frequency"] == 1


def test_the_first_chunk_settles_the_date_format(fitted, tmp_path):
    from clvmodels.streaming import stream_rfm

    path = tmp_path / "log.csv"
    path.write_text("customer_id,date,amount\n1,05/01/2020,1\n2,13/01/2020,1\n3,01/13/2020,1\n")
    with pytest.raises(DataError, match=r"mixes day-first and month-first.*line 3.*line 4"):
        list(stream_rfm(path, chunk_rows=10))
    with pytest.raises(DataError, match=r"could not be parsed as dates in the format "
                                        r"'%d/%m/%Y'.*'01/13/2020' at line 4"):
        list(stream_rfm(path, chunk_rows=2))  # chunk 1 settles day-first; chunk 2 breaks it


@pytest.mark.slow
@pytest.mark.parametrize("name,content,message", [
    ("log.csv", "customer_id,when,amount\n1,2020-01-01,1\n", r"missing column\(s\) \['date'\]"),
    ("log.csv", "customer_id,date,amount\n1,2020-01-01,1\n1,someday,2\n",
     r"'someday' .* not a date format|could not be parsed as dates"),
])
def test_dask_engine_bad_input_exits_2(cli_files, tmp_path, capsys, name, content, message):
    (tmp_path / name).write_text(content)
    code, err = run(["score", "--model", cli_files / "model.json", "--transactions",
                     tmp_path / name, "--engine", "dask", "--out", tmp_path / "s.csv"], capsys)
    assert code == 2 and re.search(message, one_line(err))
    assert not (tmp_path / "s.csv").exists()


# ---------------------------------------------------------------------------------------------
# 7. the backtest on real-life logs


def test_a_log_without_amounts_backtests_purchases_only(cli_files, tmp_path, capsys):
    code, err = run(["backtest", "--transactions", cli_files / "no_amounts.csv",
                     "--calibration-end", "1997-09-30", "--observation-end", END, "--methods",
                     "bgnbd_gg", "run_rate", "--out", tmp_path / "bt"], capsys)
    assert code == 0 and "purchase-only backtest" in err[0]
    table = pd.read_csv(tmp_path / "bt" / "metrics.csv")
    assert table["purchases_mae"].notna().all() and "spend_mae" not in table
    assert "no amounts: a purchase-only backtest" in (tmp_path / "bt" / "report.md").read_text()


def test_one_failing_method_does_not_stop_the_others(cdnow):
    constant = cdnow.assign(amount=10.0)  # Gamma-Gamma cannot fit constant amounts
    result = clvmodels.backtest(constant, calibration_end="1997-09-30", observation_end=END,
                                methods=["bgnbd_gg", "run_rate"])
    assert list(result.failures) == ["bgnbd_gg"]
    # constant amounts leave Gamma-Gamma's likelihood without a maximum: where the optimiser
    # stops (an unidentified ridge, or no convergence) depends on the scipy release
    failure = result.failures["bgnbd_gg"]["1997-09-30"]
    assert failure.startswith("ConvergenceError: GammaGamma") and (
        "did not converge" in failure or "do not identify the parameters" in failure)
    table = result.metrics.set_index("method")
    assert table.loc["bgnbd_gg", "error"].startswith("ConvergenceError")
    assert np.isfinite(table.loc["run_rate", "purchases_mae"]) and table.loc["run_rate", "error"] == ""
    assert "`bgnbd_gg` failed" in result.report()
    assert result.winners().loc["purchases_mae", "best"] == "run_rate"


def test_an_observation_end_past_the_data_is_refused(cdnow):
    with pytest.raises(DataError, match=r"observation_end='2000-06-30'.*is 731 days after the "
                                        r"last transaction of the log \(1998-06-30\)"):
        clvmodels.backtest(cdnow, calibration_end="1997-09-30", observation_end="2000-06-30",
                           methods=["run_rate"])


def test_returning_customers_keep_retention_at_most_one():
    from clvmodels.heuristics import measure_inputs, retention_table

    log = pd.DataFrame({"customer_id": ["a", "b", "c", "a", "b", "c"],
                        "date": ["2024-01-05", "2024-01-06", "2024-01-07", "2024-02-05",
                                 "2024-03-06", "2024-03-07"], "amount": 1.0})
    table = retention_table(log, period="M")  # Feb: a stays; Mar: b and c come back, a lapses
    assert table["retention_rate"].tolist()[1:] == [1 / 3, 0.0]
    assert table["customers_returning"].tolist() == [0, 0, 2]
    assert measure_inputs(log, period="M").retention_rate == pytest.approx(1 / 6)


# ---------------------------------------------------------------------------------------------
# the surface added since: per-customer arguments, subscriptions, backtests, arguments, flags


@pytest.fixture(scope="module")
def weekly(cdnow_calibration):
    bg = clvmodels.BetaGeo().fit(cdnow_calibration)
    gg = clvmodels.GammaGamma().fit(cdnow_calibration)
    return cdnow_calibration, bg, gg


def test_shuffled_weights_fit_like_ordered_ones(cdnow):
    """The defect that started issue 19: weights applied by position gave r = 1.51 for 0.254."""
    rfm = clvmodels.rfm_summary(cdnow, time_unit="W")
    histories = rfm.groupby(["frequency", "recency", "T"]).size().rename("n").reset_index()
    frame = histories[["frequency", "recency", "T"]]
    frame.attrs["time_unit"] = "W"
    weights = histories["n"].sample(frac=1.0, random_state=1)
    params = clvmodels.BetaGeo().fit(frame, weights=weights).params_
    np.testing.assert_allclose(params, clvmodels.BetaGeo().fit(rfm).params_, rtol=1e-7)


def test_a_fit_refuses_a_frame_without_its_time_unit(weekly):
    rfm, bg, _ = weekly
    bare = pd.DataFrame(rfm[["frequency", "recency", "T"]])
    bare.attrs = {}
    with pytest.raises(DataError, match=r"records no time unit.*time_unit='W'"):
        clvmodels.BetaGeo().fit(bare)
    fitted = clvmodels.BetaGeo().fit(bare, time_unit="W")
    assert fitted.time_unit_ == "W"
    np.testing.assert_allclose(fitted.params_, bg.params_, rtol=1e-9)
    with pytest.raises(DataError, match="says otherwise"):
        clvmodels.BetaGeo().fit(rfm, time_unit="D")


@pytest.mark.parametrize("call,message", [
    (lambda bg, gg, r: clvmodels.customer_value(bg, gg, r, interval="94%"), r"interval= must be"),
    (lambda bg, gg, r: bg.expected_purchases(r, 10, interval=float("nan")), r"interval= must be"),
    (lambda bg, gg, r: clvmodels.total(bg.expected_purchases, r, 52, interval=0),
     r"interval= must be"),
    (lambda bg, gg, r: clvmodels.total(bg.expected_purchases, r.iloc[:0], 52),
     r"at least one customer"),
    (lambda bg, gg, r: clvmodels.total(bg.expected_purchases, r, 52, by="nope"),
     r"by='nope' is not a column"),
    (lambda bg, gg, r: clvmodels.total(bg.expected_purchases, r, 52,
                                       by=pd.Series(1, index=[r.index[0]] * 2)),
     r"more than once"),
    (lambda bg, gg, r: bg.conditional_probability_of_purchases(r, np.inf, 10),
     r"n= must be one whole number"),
    (lambda bg, gg, r: clvmodels.customer_value(gg, bg, r), r"purchase_model must be"),
    (lambda bg, gg, r: clvmodels.customer_value(bg, gg, r, period="2M"), r"period='2M'"),
    (lambda bg, gg, r: bg.summary(level=1.5), r"level= must be"),
    (lambda bg, gg, r: bg.expected_purchases(r, "52"), r"is not a number"),
    (lambda bg, gg, r: bg.expected_purchases(r, True), r"is not a number"),
    (lambda bg, gg, r: bg.purchase_interval(r, 10, max_purchases=1e308),
     r"max_purchases= must be"),
    (lambda bg, gg, r: clvmodels.compare(r, "nope"), r"unknown purchase model\(s\) \['nope'\]"),
    (lambda bg, gg, r: clvmodels.BetaGeo(purchase_covariates=["recency"]).fit(r),
     r"'recency', which is the customer's own purchase history"),
    (lambda bg, gg, r: clvmodels.BetaGeo(purchase_covariates=["frequency_holdout"]).fit(r),
     r"leak the future"),
    (lambda bg, gg, r: clvmodels.BayesianBetaGeo(draws=0).fit(r), r"draws=0: draws must be"),
    (lambda bg, gg, r: clvmodels.BayesianBetaGeo(chains=0).fit(r), r"chains=0: chains must be"),
    (lambda bg, gg, r: clvmodels.BayesianBetaGeo(target_accept=1).fit(r), r"target_accept="),
    (lambda bg, gg, r: clvmodels.simulate_transactions(0), r"n_customers= must be"),
], ids=["interval text", "interval nan", "total interval 0", "total empty", "by unknown column",
        "by repeated labels", "n infinite", "swapped models", "period", "summary level",
        "horizon text", "horizon bool", "max_purchases", "compare unknown", "own history",
        "holdout covariate", "draws 0", "chains 0", "target_accept", "no customers"])
def test_out_of_range_arguments_are_refused_by_name(weekly, call, message):
    rfm, bg, gg = weekly
    with pytest.raises(DataError, match=message):
        call(bg, gg, rfm)


def test_arguments_at_their_edges_compute_the_right_thing(weekly):
    rfm, bg, gg = weekly
    assert (clvmodels.customer_value(bg, gg, rfm, horizon=0) == 0).all()
    assert (clvmodels.customer_value(bg, gg, rfm, horizon=0, start=5) == 0).all()
    one = clvmodels.compare(rfm, "bgnbd")
    assert list(one.index) == ["bgnbd"]
    by_name = clvmodels.total(bg.expected_purchases, rfm, 52, by="frequency")
    assert by_name["customers"].sum() == len(rfm)
    per_customer = pd.Series(np.where(rfm["frequency"] > 2, 52.0, 26.0), index=rfm.index)
    interval = bg.purchase_interval(rfm, per_customer.sample(frac=1, random_state=0), 0.8)
    for t in (26.0, 52.0):
        rows = per_customer == t
        pd.testing.assert_frame_equal(interval[rows],
                                      bg.purchase_interval(rfm[rows], t, 0.8))
    observation = clvmodels.rfm_summary(clvmodels.load_cdnow(),
                                        observation_end=pd.Period("1998-06-30", "D"))
    assert observation["T"].max() > 500
    with pytest.raises(DataError, match="period of several days"):
        clvmodels.rfm_summary(clvmodels.load_cdnow(), observation_end=pd.Period("1998-06", "M"))
    import importlib

    package = importlib.import_module("clvmodels")
    assert callable(package.plotting.plot_probability_alive_matrix)


def test_a_holdout_without_purchases_is_not_a_bias_of_infinity(weekly):
    rfm, _, _ = weekly
    with pytest.raises(DataError, match="the holdout has no purchase"):
        clvmodels.compare(rfm.assign(frequency_holdout=0))


def test_sbg_predictions_refuse_periods_that_are_not_periods():
    model = clvmodels.ShiftedBetaGeo().fit(
        clvmodels.models.shifted_beta_geo.cohort_frame([1000, 631, 468, 382, 326]))
    for periods in ([-3, -1, np.nan], [1.5], "3", [True]):
        with pytest.raises(DataError, match="periods must be whole numbers"):
            model.survival(periods)
    with pytest.raises(DataError, match=">= 1"):
        model.retention_rate([0, 1])
    assert model.survival([0, 1]).iloc[0] == 1.0
    with pytest.raises(DataError, match="discount_rate="):
        model.discounted_expected_lifetime(float("nan"))


@pytest.fixture(scope="module")
def purchase_only(cdnow):
    return clvmodels.backtest(cdnow.drop(columns="amount"), calibration_end="1997-09-30",
                              observation_end="1998-06-30", amount=None,
                              methods=["bgnbd_gg", "pnbd_gg", "run_rate"])


def test_a_purchase_only_backtest_keeps_every_purchase_output(purchase_only, tmp_path):
    summary = purchase_only.summary()
    for column in ("coverage_80", "coverage_94", "holdout_loglik"):
        assert summary.loc[["bgnbd_gg", "pnbd_gg"], column].notna().all(), column
    assert not any(c.startswith("spend") for c in summary.columns)
    assert set(purchase_only.tracking.columns) >= {"actual", "bgnbd_gg", "pnbd_gg"}
    files = purchase_only.write(tmp_path)
    assert any(f.endswith("tracking.png") for f in files)
    report = (tmp_path / "report.md").read_text()
    assert "weighted by spend" not in report
    assert "weighted by holdout purchases" in report


def test_the_backtest_checks_its_own_arguments(purchase_only):
    with pytest.raises(DataError, match="level= must be"):
        purchase_only.intervals(level=0)
    with pytest.raises(DataError, match="draws= must be"):
        purchase_only.intervals(draws=0)
    with pytest.raises(DataError, match=r"no metric 'purchases_mea'.*purchases_mae"):
        purchase_only.difference("purchases_mea", "bgnbd_gg", "pnbd_gg")


def test_a_gap_too_small_to_matter_is_a_tie(purchase_only):
    result = purchase_only
    summary = result.summary()
    twin = summary.loc["bgnbd_gg"] * (1 + 1e-6)  # a Bayesian twin within 1e-6
    result_twin = clvmodels.BacktestResult(
        pd.concat([result.metrics, result.metrics[result.metrics["method"] == "bgnbd_gg"]
                   .assign(method="bayes_bgnbd_gg",
                           **{c: twin[c] for c in twin.index if c in result.metrics})]),
        pd.concat([result.predictions, result.predictions[result.predictions["method"]
                                                          == "bgnbd_gg"]
                   .assign(method="bayes_bgnbd_gg")]),
        result.calibration, result.excluded, result.failures, result.data, result.tracking)
    gap = result_twin.difference("purchases_mae", "bgnbd_gg", "bayes_bgnbd_gg")
    assert gap["tie"] and not gap["clear"]
    report = result_twin.report()
    assert "tie (" in report and "too small to matter" in report


# -- ids in customer tables ----------------------------------------------------------------
def test_customer_table_ids_are_read_like_the_log(tmp_path):
    log = pd.DataFrame({"customer_id": ["0000", "0001", "0001", "0002"],
                        "date": ["2020-01-01", "2020-01-02", "2020-02-01", "2020-01-05"]})
    log.to_csv(tmp_path / "tx.csv", index=False)
    table = pd.DataFrame({"customer_id": ["0000", "0001", "0002"], "channel": ["a", "b", "a"]})
    table.to_csv(tmp_path / "c.csv", index=False)
    rfm = clvmodels.rfm_summary(tmp_path / "tx.csv", observation_end="2020-03-01",
                                customers=tmp_path / "c.csv")
    assert list(rfm.index) == ["0000", "0001", "0002"] and list(rfm["channel"]) == ["a", "b", "a"]
    numbers = log.assign(customer_id=[0, 1, 1, 2])
    with pytest.raises(DataError, match=r"text such as '0000'.*leading zeros"):
        clvmodels.rfm_summary(numbers, observation_end="2020-03-01", customers=tmp_path / "c.csv")
    table.assign(customer_id=["0.0", "1.0", "2.0"]).to_csv(tmp_path / "f.csv", index=False)
    with pytest.raises(DataError, match=r"text such as '0.0'"):
        clvmodels.rfm_summary(numbers, observation_end="2020-03-01", customers=tmp_path / "f.csv")
    table.to_csv(tmp_path / "s.csv", index=False, sep=";")
    with pytest.raises(DataError, match=r"separated by another character: give sep="):
        clvmodels.rfm_summary(tmp_path / "tx.csv", observation_end="2020-03-01",
                              customers=tmp_path / "s.csv")
    log.to_csv(tmp_path / "tx_semicolon.csv", index=False, sep=";")  # one sep for both files
    rfm = clvmodels.rfm_summary(tmp_path / "tx_semicolon.csv", observation_end="2020-03-01",
                                customers=tmp_path / "s.csv", sep=";")
    assert list(rfm["channel"]) == ["a", "b", "a"]


# -- the command line -----------------------------------------------------------------------
def test_the_command_line_and_python_fit_in_the_same_unit_by_default(cdnow, tmp_path, capsys):
    cdnow.to_csv(tmp_path / "tx.csv", index=False)
    assert main(["fit", "--transactions", str(tmp_path / "tx.csv"), "--observation-end", END,
                 "--out", str(tmp_path / "m.json"), "--quiet"]) == 0
    pair = clvmodels.load(tmp_path / "m.json")
    python = clvmodels.BetaGeo().fit(clvmodels.rfm_summary(cdnow, observation_end=END))
    assert pair.purchases.time_unit_ == "D"
    np.testing.assert_allclose(pair.purchases.params_, python.params_, rtol=1e-6)
    help_text = clvmodels.cli.build_parser()._subparsers._group_actions[0].choices["fit"]
    assert "default: --freq's, as rfm_summary" in help_text.format_help().replace("\n", " ")


def test_the_command_line_version_and_internal_errors(capsys, monkeypatch):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and "clvmodels" in capsys.readouterr().out

    def broken(args):
        raise KeyError("boom")

    parser = clvmodels.cli.build_parser
    monkeypatch.setattr(clvmodels.cli, "demo", broken)
    monkeypatch.setattr(clvmodels.cli, "build_parser", lambda: _with(parser(), broken))
    assert main(["demo"]) == 1
    err = capsys.readouterr().err
    assert "internal error (KeyError" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def _with(parser, run):
    parser._subparsers._group_actions[0].choices["demo"].set_defaults(run=run)
    return parser


def test_a_bgbb_model_scores_in_its_own_periods(tmp_path, capsys):
    log = clvmodels.simulate_opportunities(3000, seed=2, period="M", opportunities=12)
    log.to_csv(tmp_path / "log.csv", index=False)
    end = log.attrs["observation_end"]
    assert main(["fit", "--transactions", str(tmp_path / "log.csv"), "--observation-end", end,
                 "--model", "bgbb_gg", "--freq", "M", "--out", str(tmp_path / "m.json"),
                 "--quiet"]) == 0
    assert main(["score", "--model", str(tmp_path / "m.json"), "--transactions",
                 str(tmp_path / "log.csv"), "--observation-end", end, "--out",
                 str(tmp_path / "s.csv"), "--quiet"]) == 0
    scores = pd.read_csv(tmp_path / "s.csv")
    assert (scores["T"] == scores["T"].round()).all() and scores["clv"].notna().all()
    inside = (pd.Timestamp(end) - pd.Timedelta(days=10)).strftime("%Y-%m-%d")
    assert main(["fit", "--transactions", str(tmp_path / "log.csv"), "--observation-end",
                 inside, "--model", "bgbb_gg", "--freq", "M", "--out",
                 str(tmp_path / "x.json")]) == 2
    assert "falls inside a period of --freq M" in capsys.readouterr().err
    assert main(["score", "--model", str(tmp_path / "m.json"), "--transactions",
                 str(tmp_path / "log.csv"), "--observation-end", end, "--freq", "D", "--out",
                 str(tmp_path / "y.csv")]) == 2
    assert "counts one opportunity per period of 'M'" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "y.csv").exists()


def test_a_scores_parquet_file_records_its_unit(cli_files, tmp_path, capsys):
    out = tmp_path / "s.parquet"
    assert main(["score", "--model", str(cli_files / "model.json"), "--transactions",
                 str(cli_files / "log.parquet"), "--out", str(out)]) == 0
    assert "recency and T in weeks" in capsys.readouterr().out
    scores = pd.read_parquet(out)
    assert scores.attrs == {"time_unit": "W", "horizon_months": 12.0}


@pytest.mark.parametrize("call,message", [
    (lambda P, bg, gg, r, t: P.plot_probability_alive_matrix(gg), r"needs a purchase model"),
    (lambda P, bg, gg, r, t: P.plot_calibration_purchases(bg, r[["frequency", "recency", "T"]]),
     r"lacks \['frequency_holdout', 'duration_holdout'\]"),
    (lambda P, bg, gg, r, t: P.plot_clv_distribution(pd.Series([], dtype=float)),
     r"clv must be one or more finite numbers"),
    (lambda P, bg, gg, r, t: P.plot_clv_distribution(pd.Series([np.nan, 1.0])), r"no NaN"),
    (lambda P, bg, gg, r, t: P.plot_lorenz(pd.Series([-1.0, 1.0])), r"clv must be >= 0"),
    (lambda P, bg, gg, r, t: P.tracking_table(bg, t, calibration_end="1990-01-01"),
     r"before every first purchase"),
    (lambda P, bg, gg, r, t: P.plot_backtest_metrics(pd.DataFrame()), r"lacks \['spearman'"),
    (lambda P, bg, gg, r, t: P.plot_lift_curves(pd.DataFrame({"a": [1]}), target="x"),
     r"target='x'"),
    (lambda P, bg, gg, r, t: P.plot_posterior(bg), r"needs a Bayesian model"),
    (lambda P, bg, gg, r, t: P.plot_probability_alive_matrix(bg, max_frequency=-1),
     r"max_frequency= must be"),
    (lambda P, bg, gg, r, t: clvmodels.rfm_summary(t, date_format=5), r"date_format=5"),
    (lambda P, bg, gg, r, t: clvmodels.BetaGeo().fit(r, weights=r[["T"]]), r"not a DataFrame"),
    (lambda P, bg, gg, r, t: gg.new_customer_spend_quantiles("0.5"), r"numbers in \(0, 1\)"),
    (lambda P, bg, gg, r, t: bg.save("/nonexistent-folder/m.json"), r"path= '/nonexistent"),
], ids=["plot a spend model", "calibration without holdout", "empty values", "NaN values",
        "negative values", "tracking before any customer", "missing metrics", "lift target",
        "posterior of an MLE", "negative grid", "date_format not text", "weights frame",
        "quantiles as text", "save into a missing folder"])
def test_plots_and_helpers_refuse_what_they_cannot_draw(weekly, cdnow, call, message):
    import clvmodels.plotting as P

    rfm, bg, gg = weekly
    with pytest.raises(DataError, match=message):
        call(P, bg, gg, rfm, cdnow)


@pytest.mark.parametrize("change,message", [
    (lambda d: d["purchases"].update(time_unit=None), r"records no time unit"),
    (lambda d: d["purchases"].update(n_customers="many"), r"n_customers is 'many'"),
    (lambda d: d["purchases"].update(n_customers=1.5), r"n_customers is 1.5"),
    (lambda d: d["purchases"].pop("covariance"), r"it has no 'covariance'"),
], ids=["no unit", "text count", "fractional count", "no covariance"])
def test_model_file_headers_are_checked(pair_file, change, message):
    edit(pair_file, change)
    with pytest.raises(ModelFormatError, match=message):
        clvmodels.load(pair_file)


def test_an_unreachable_dask_scheduler_is_bad_input(cli_files, tmp_path, capsys):
    code = main(["score", "--model", str(cli_files / "model.json"), "--transactions",
                 str(cli_files / "log.parquet"), "--engine", "dask", "--scheduler",
                 "tcp://127.0.0.1:9", "--out", str(tmp_path / "s.csv"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach the Dask scheduler at --scheduler tcp://127.0.0.1:9" in err
    assert not (tmp_path / "s.csv").exists()
