import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
from lifetimes import utils as lifetimes_utils
from lifetimes.datasets import (
    load_cdnow_summary,
    load_cdnow_summary_data_with_monetary_value,
)

import clvmodels
from clvmodels import DataError, DataQualityWarning

from . import reference


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return fn(*args, **kwargs)


def test_cdnow_shapes(cdnow):
    assert cdnow.columns.tolist() == ["customer_id", "date", "amount"]
    assert pd.api.types.is_datetime64_any_dtype(cdnow["date"])
    assert cdnow["amount"].dtype == np.float64
    assert (len(cdnow), cdnow.customer_id.nunique()) == reference.CDNOW_SAMPLE_SHAPE
    master = clvmodels.load_cdnow("master")
    assert (len(master), master.customer_id.nunique()) == reference.CDNOW_MASTER_SHAPE
    with pytest.raises(ValueError, match="kind"):
        clvmodels.load_cdnow("full")


def test_rfm_reproduces_the_papers_summary(cdnow):
    rfm = quiet(clvmodels.rfm_summary, cdnow, observation_end="1997-09-30", freq="D",
                time_unit="W", amount="amount")
    assert rfm.attrs["time_unit"] == "W"
    assert len(rfm) == 2357
    one = rfm.loc[1]
    assert one["frequency"] == reference.CDNOW_CUSTOMER_1["frequency"]
    assert round(one["recency"], 2) == reference.CDNOW_CUSTOMER_1["recency"]
    assert round(one["T"], 2) == reference.CDNOW_CUSTOMER_1["T"]
    # every customer of the published summary shipped with lifetimes (rounded to 2 decimals)
    paper = load_cdnow_summary(index_col=[0])
    assert (rfm["frequency"].to_numpy() == paper["frequency"].to_numpy()).all()
    np.testing.assert_allclose(rfm["recency"], paper["recency"], atol=0.006)
    np.testing.assert_allclose(rfm["T"], paper["T"], atol=0.006)
    spend = load_cdnow_summary_data_with_monetary_value()
    np.testing.assert_allclose(rfm["monetary_value"], spend["monetary_value"], atol=0.006)
    assert (rfm["frequency"] > 0).sum() == reference.GAMMA_GAMMA_CDNOW_CUSTOMERS


# lifetimes 0.11.3 fails for freq="M" on pandas 3; months are checked by hand below
@pytest.mark.parametrize("freq,unit,multiplier", [("D", "W", 7), ("D", "D", 1), ("W", "W", 1)])
def test_rfm_matches_lifetimes(cdnow, freq, unit, multiplier):
    ours = quiet(clvmodels.rfm_summary, cdnow, amount="amount", freq=freq, time_unit=unit,
                 observation_end="1998-06-30")
    theirs = lifetimes_utils.summary_data_from_transaction_data(
        cdnow, "customer_id", "date", monetary_value_col="amount", freq=freq,
        freq_multiplier=multiplier, observation_period_end="1998-06-30",
    )
    theirs = theirs.loc[ours.index]
    for col in ["frequency", "recency", "T", "monetary_value"]:
        np.testing.assert_allclose(ours[col], theirs[col], rtol=1e-12, atol=1e-9, err_msg=col)


def test_calibration_holdout_matches_lifetimes(cdnow_calibration, cdnow):
    theirs = lifetimes_utils.calibration_and_holdout_data(
        cdnow, "customer_id", "date", calibration_period_end="1997-09-30",
        observation_period_end="1998-06-30", freq="D", freq_multiplier=7,
        monetary_value_col="amount",
    )
    ours = cdnow_calibration.loc[theirs.index]
    assert len(ours) == len(theirs) == 2357
    pairs = {"frequency": "frequency_cal", "recency": "recency_cal", "T": "T_cal",
             "monetary_value": "monetary_value_cal", "frequency_holdout": "frequency_holdout",
             "duration_holdout": "duration_holdout"}
    for col, their_col in pairs.items():
        np.testing.assert_allclose(ours[col], theirs[their_col], rtol=1e-12, err_msg=col)


def test_calibration_holdout_without_amount_and_new_customers(cdnow, cdnow_calibration):
    # lifetimes 0.11.3 crashes here on pandas 3; new customers of the holdout are counted
    late = pd.DataFrame({"customer_id": [99999], "date": [pd.Timestamp("1998-01-05")],
                         "amount": [10.0]})
    log = pd.concat([cdnow, late], ignore_index=True)
    split = clvmodels.calibration_holdout(log, calibration_end="1997-09-30",
                                          observation_end="1998-06-30", time_unit="W")
    assert "monetary_value" not in split and "monetary_value_holdout" not in split
    assert split.attrs["excluded"]["first_purchase_in_holdout"] == 1
    assert 99999 not in split.index
    pd.testing.assert_series_equal(split["frequency_holdout"],
                                   cdnow_calibration["frequency_holdout"])
    assert (split["duration_holdout"] == 39).all()


def test_inputs_pandas_polars_csv_parquet_agree(cdnow, tmp_path):
    expected = clvmodels.rfm_summary(cdnow, amount="amount")
    csv, parquet = tmp_path / "tx.csv", tmp_path / "tx.parquet"
    cdnow.to_csv(csv, index=False)
    cdnow.to_parquet(parquet)
    for source in (pl.from_pandas(cdnow), str(csv), parquet):
        got = clvmodels.rfm_summary(source, amount="amount")
        pd.testing.assert_frame_equal(got, expected, check_exact=False)


def test_input_frame_is_not_modified(cdnow):
    copy = cdnow.copy()
    clvmodels.rfm_summary(cdnow, amount="amount", freq="W")
    pd.testing.assert_frame_equal(cdnow, copy)


def test_same_period_purchases_are_one_occasion():
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b"],
        "date": ["2020-01-01 09:00", "2020-01-01 17:00", "2020-01-08", "2020-01-02"],
        "amount": [5.0, 7.0, 3.0, 1.0],
    })
    rfm = clvmodels.rfm_summary(tx, amount="amount", observation_end="2020-01-15")
    assert rfm.loc["a"].tolist() == [1, 7, 14, 3.0]
    weekly = clvmodels.rfm_summary(tx, amount="amount", freq="W", observation_end="2020-01-15")
    assert weekly.loc["a"].tolist() == [1, 1, 2, 3.0]  # Monday-start weeks
    assert weekly.loc["b", "frequency"] == 0 and weekly.loc["b", "monetary_value"] == 0
    monthly = clvmodels.rfm_summary(tx, amount="amount", freq="M", observation_end="2020-03-31")
    assert monthly.loc["a"].tolist() == [0, 0, 2, 0.0]  # all in January, observed to March
    days_in_weeks = clvmodels.rfm_summary(tx, freq="D", time_unit="W", observation_end="2020-01-15")
    assert days_in_weeks.loc["a", "recency"] == 1 and days_in_weeks.loc["a", "T"] == 2


TX = pd.DataFrame({"customer_id": [1, 1, 2], "date": ["2020-01-01", "2020-02-01", "2020-01-05"],
                   "amount": [10.0, 5.0, 3.0]})


@pytest.mark.parametrize("change,message", [
    (lambda d: d.drop(columns="date"), r"missing column\(s\) \['date'\]"),
    (lambda d: d.assign(date=["2020-01-01", "not a date", "2020-01-05"]),
     r"'date': 1 value\(s\) could not be parsed as dates.*\(first: 'not a date' at row 1\)"),
    (lambda d: d.assign(date=[None, "2020-01-02", "2020-01-05"]), r"'date': 1 row\(s\) have no date"),
    (lambda d: d.assign(customer_id=[1, None, 2]), r"1 row\(s\) have no customer id"),
    (lambda d: d.assign(amount=[1.0, np.nan, 2.0]), r"1 amount\(s\) are missing"),
    (lambda d: d.assign(amount=[1.0, -4.0, 2.0]), r"1 negative amount\(s\).*negative_amounts='drop'"),
    (lambda d: d.iloc[:0], "empty"),
])
def test_bad_input_says_what_and_how(change, message):
    with pytest.raises(DataError, match=message):
        clvmodels.rfm_summary(change(TX), amount="amount")


def test_refunds_can_be_dropped_and_are_counted():
    refunds = TX.assign(amount=[10.0, -5.0, 3.0])
    with pytest.warns(DataQualityWarning, match="1 negative amount"):
        rfm = clvmodels.rfm_summary(refunds, amount="amount", negative_amounts="drop")
    assert rfm.attrs["excluded"]["negative_amount"] == 1
    assert rfm.loc[1, "frequency"] == 0


def test_transactions_after_the_end_are_counted():
    with pytest.warns(DataQualityWarning, match="1 after observation end"):
        rfm = clvmodels.rfm_summary(TX, observation_end="2020-01-20")
    assert rfm.attrs["excluded"]["after_observation_end"] == 1
    assert rfm.loc[1, "T"] == 19


def test_files_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        clvmodels.rfm_summary(tmp_path / "missing.csv")
    (tmp_path / "tx.xlsx").write_text("x")
    with pytest.raises(DataError, match="unknown file type"):
        clvmodels.rfm_summary(tmp_path / "tx.xlsx")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="could not read"):
        clvmodels.rfm_summary(tmp_path / "bad.parquet")
    TX.to_csv(tmp_path / "tx.csv", index=False)
    with pytest.raises(DataError, match=r"missing column\(s\) \['spend'\]"):
        clvmodels.rfm_summary(tmp_path / "tx.csv", amount="spend")


def test_rfm_frame_checks_name_the_offender():
    from clvmodels.data import check_rfm

    bad = pd.DataFrame({"frequency": [1, 2], "recency": [3.0, 9.0], "T": [5.0, 8.0]},
                       index=["x", "y"])
    with pytest.raises(DataError, match=r"recency must be <= T; 1 customer\(s\) violate this \(first: 'y'\)"):
        check_rfm(bad)
    with pytest.raises(DataError, match="whole number"):
        check_rfm(bad.assign(frequency=[1.5, 2], recency=[3.0, 8.0]))
    with pytest.raises(DataError, match="recency must be 0 where frequency is 0"):
        check_rfm(bad.assign(frequency=[0, 2], recency=[3.0, 8.0]))
