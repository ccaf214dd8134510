"""The data layer's statistics beyond RFM: the sum of the logarithms of the inter-purchase times
(``litt``, Platzer & Reutterer 2016), exact against a direct computation on unsorted logs with
same-day purchases, in memory, streamed from a file, and on Dask."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clvmodels
from clvmodels import DataError
from clvmodels.streaming import stream_rfm


def direct_litt(log: pd.DataFrame, unit_days: float, end: str) -> pd.Series:
    """Per customer, sum over her distinct purchase days (after the first) of log(gap), the gaps
    in days / unit_days: written from the definition, customer by customer."""
    out = {}
    for customer, rows in log[log["date"] <= end].groupby("customer_id"):
        days = np.unique(pd.to_datetime(rows["date"]).to_numpy().astype("datetime64[D]")
                         .astype(np.int64))
        gaps = np.diff(days) / unit_days
        out[customer] = float(np.sum(np.log(gaps))) if len(gaps) else 0.0
    return pd.Series(out, name="litt")


def random_log(seed: int, customers: int = 300) -> pd.DataFrame:
    """Unsorted purchases with same-day repeats (several a day for some customers)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 12, customers)
    ids = np.repeat(np.arange(customers), counts)
    start = pd.Timestamp("2020-01-01")
    days = rng.integers(0, 400, len(ids))
    days[rng.random(len(ids)) < 0.2] = 17  # many customers buy twice on one day
    log = pd.DataFrame({"customer_id": ids, "date": start + pd.to_timedelta(days, unit="D"),
                        "amount": rng.gamma(2.0, 10.0, len(ids))})
    return log.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), unit=st.sampled_from(["D", "W", "M"]))
def test_litt_is_exact_on_unsorted_logs_with_same_day_purchases(seed, unit):
    log = random_log(seed)
    with warnings.catch_warnings():  # the purchases after the end are left out on purpose
        warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
        rfm = clvmodels.rfm_summary(log, time_unit=unit, statistics=["litt"],
                                    observation_end="2021-01-15")
    days = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}[unit]
    expected = direct_litt(log, days, "2021-01-15").reindex(rfm.index)
    np.testing.assert_allclose(rfm["litt"], expected, rtol=1e-12, atol=1e-12)
    assert (rfm.loc[rfm["frequency"] == 0, "litt"] == 0).all()
    assert list(rfm.columns) == ["frequency", "recency", "T", "litt"]


def test_litt_streamed_and_on_dask_equals_in_memory(tmp_path):
    log = random_log(7, customers=2_000)
    log.to_csv(tmp_path / "log.csv", index=False)
    expected = clvmodels.rfm_summary(log, amount="amount", time_unit="W", statistics=["litt"])
    parts = stream_rfm(tmp_path / "log.csv", time_unit="W", statistics=["litt"],
                       chunk_rows=1_500, partition_rows=4_000, spill_dir=tmp_path)
    streamed = pd.concat(list(parts)).sort_index()
    pd.testing.assert_frame_equal(streamed, expected, check_like=False, rtol=1e-12)
    import dask
    import dask.dataframe as dd

    from clvmodels import dask_engine

    with dask.config.set(scheduler="synchronous"):
        frame = dd.from_pandas(log, npartitions=5)
        on_dask = dask_engine.rfm_summary(frame, time_unit="W", statistics=["litt"]).compute()
    on_dask = on_dask.set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(on_dask[expected.columns], expected, check_names=False,
                                  rtol=1e-12)


def test_the_calibration_window_has_its_own_litt():
    log = random_log(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
        split = clvmodels.calibration_holdout(log, calibration_end="2020-09-30",
                                              observation_end="2021-02-01", time_unit="W",
                                              statistics="litt")
    expected = direct_litt(log, 7.0, "2020-09-30").reindex(split.index)
    np.testing.assert_allclose(split["litt"], expected, rtol=1e-12, atol=1e-12)


def test_unknown_statistics_and_litt_as_a_covariate_are_refused():
    log = random_log(1)
    with pytest.raises(DataError, match=r"statistics='ltv': unknown statistic.*\['litt'\]"):
        clvmodels.rfm_summary(log, statistics=["ltv"])
    rfm = clvmodels.rfm_summary(log, time_unit="W", statistics=["litt"])
    with pytest.raises(DataError, match="'litt', which is the customer's own purchase history"):
        clvmodels.BetaGeo(purchase_covariates=["litt"]).fit(rfm)
