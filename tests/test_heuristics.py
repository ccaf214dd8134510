"""The practitioner formulas of docs/heuristics.md, exactly, and their inputs measured from a log."""

import numpy as np
import pandas as pd
import pytest

from clvmodels import heuristics as h

# The coffee-chain case of docs/heuristics.md: five customers' spend per visit, visits per week and
# spend per week; t = 20 years, r = 0.75, p = 0.213, i = 0.10.
SPEND_PER_VISIT = [3.5, 8.5, 5, 6.5, 6]
VISITS_PER_WEEK = [4, 3, 5, 6, 3]
SPEND_PER_WEEK = [14, 25.5, 25, 39, 18]
T_YEARS, R, P, I = 20, 0.75, 0.213, 0.10


def test_worked_case_averages_match_the_table():
    assert np.mean(SPEND_PER_VISIT) == pytest.approx(5.90)
    assert np.mean(VISITS_PER_WEEK) == pytest.approx(4.2)
    assert np.mean(SPEND_PER_WEEK) == pytest.approx(24.30)
    # a is the mean of each customer's weekly spend, not s x c
    assert np.mean(SPEND_PER_VISIT) * np.mean(VISITS_PER_WEEK) != pytest.approx(24.30)


def test_worked_case_to_the_cent():
    s, c, a = np.mean(SPEND_PER_VISIT), np.mean(VISITS_PER_WEEK), np.mean(SPEND_PER_WEEK)
    simple = h.simple_ltv(a, T_YEARS)
    custom = h.custom_ltv(s, c, P, T_YEARS)
    traditional = h.traditional_ltv(P * simple, R, I)
    average = h.average_ltv(simple, custom, traditional)
    # by hand: 24.30*52*20; 20*(52*5.9*4.2*0.213); 0.213*25272*0.75/0.35; the mean of the three
    assert round(simple, 2) == 25272.00
    assert round(custom, 2) == 5489.27
    assert round(traditional, 2) == 11534.86
    assert round(average, 2) == 14098.71


def test_formulas_vectorise_per_customer():
    simple = h.simple_ltv(np.array(SPEND_PER_WEEK), T_YEARS)
    np.testing.assert_allclose(simple, np.array(SPEND_PER_WEEK) * 52 * 20)
    custom = h.custom_ltv(np.array(SPEND_PER_VISIT), np.array(VISITS_PER_WEEK), P, T_YEARS)
    np.testing.assert_allclose(custom, 20 * 52 * np.array([14, 25.5, 25, 39, 18]) * P)


def test_building_blocks():
    assert h.average_order_value(1000, 40) == 25
    assert h.purchase_frequency(40, 16) == 2.5
    assert h.customer_value_per_period(25, 2.5) == 62.5
    assert h.repeat_customer_rate(6, 16) == 0.375
    assert h.retention_rate(200, 180, 30) == 0.75  # (E - N) / S
    assert h.churn_rate(0.75) == 0.25
    assert h.lifespan_from_churn(0.25) == 4
    assert h.arpu([120, 30], [12, 3]) == 10
    assert h.arpu_churn_ltv(10, 0.05) == pytest.approx(200)
    assert h.arpu_churn_ltv(10, 0.05, margin=0.7) == pytest.approx(140)
    assert h.aov_frequency_lifespan_ltv(25, 2.5, 4) == 250
    assert h.ltv_cac_ratio(300, 100) == 3


def test_traditional_ltv_is_the_discounted_retention_series():
    m, r, i = 100.0, 0.6, 0.1
    series = sum(m * r**k / (1 + i) ** k for k in range(1, 400))
    assert h.traditional_ltv(m, r, i) == pytest.approx(series)


@pytest.mark.parametrize("call, message", [
    (lambda: h.average_order_value(10, 0), "orders"),
    (lambda: h.retention_rate(0, 1, 1), "customers_start"),
    (lambda: h.traditional_ltv(10, 1.2, 0.1), "retention_rate"),
    (lambda: h.arpu_churn_ltv(10, 0), "churn_rate"),
    (lambda: h.average_ltv(), "at least one"),
])
def test_bad_inputs_say_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_retention_table_counts_by_hand():
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "b", "b", "c", "d", "a"],
        "date": pd.to_datetime(["2024-01-03", "2024-02-10", "2024-01-20", "2024-03-01",
                                "2024-02-02", "2024-03-15", "2024-03-20"]),
    })
    table = h.retention_table(tx, period="M")
    # Jan: a, b active, both new; Feb: a, c (c new); Mar: a, b, d (d new, b returns after a
    # month away: not retained, so of Feb's a and c only a stayed)
    assert table["customers_start"].tolist() == [0, 2, 2]
    assert table["customers_end"].tolist() == [2, 2, 3]
    assert table["customers_new"].tolist() == [2, 1, 1]
    assert table["customers_returning"].tolist() == [0, 0, 1]
    np.testing.assert_allclose(table["retention_rate"], [np.nan, 0.5, 0.5])
    assert str(table.index[1].date()) == "2024-02-01"


def test_measured_inputs_on_cdnow_agree_with_pandas(cdnow):
    inputs = h.measure_inputs(cdnow, period="M")
    assert inputs.customers == cdnow.customer_id.nunique()
    assert inputs.average_order_value == pytest.approx(cdnow.amount.sum() / len(cdnow))
    orders = cdnow.groupby("customer_id").size()
    assert inputs.repeat_customer_rate == pytest.approx((orders > 1).mean())
    month = cdnow.date.dt.to_period("M")
    months_as_customer = (month.max() - month.groupby(cdnow.customer_id).min()).map(lambda d: d.n) + 1
    assert inputs.purchase_frequency == pytest.approx(len(cdnow) / months_as_customer.sum())
    revenue = cdnow.groupby("customer_id").amount.sum()
    assert inputs.arpu == pytest.approx((revenue / months_as_customer).mean())
    pairs = cdnow.assign(m=month)[["customer_id", "m"]].drop_duplicates()
    active = pairs.groupby("m").customer_id.nunique()
    before = pairs.assign(m=pairs.m + 1)  # who bought in the previous month
    retained = pairs.merge(before, on=["customer_id", "m"]).groupby("m").size()
    rates = (retained.reindex(active.index, fill_value=0) / active.shift(1)).dropna()
    assert (rates <= 1).all()
    assert inputs.retention_rate == pytest.approx(rates.mean())
    assert inputs.lifespan == pytest.approx(1 / (1 - rates.mean()))


def test_rfm_scores_and_segments():
    rfm = pd.DataFrame({"frequency": [0, 1, 2, 5, 9], "recency": [0, 5, 20, 30, 38],
                        "T": [39, 39, 39, 39, 39], "monetary_value": [0, 10, 20, 40, 80.0]})
    scores = h.rfm_scores(rfm)
    assert scores["R"].tolist() == [1, 2, 3, 4, 5]
    assert scores["F"].tolist() == [1, 2, 3, 4, 5]
    names = h.rfm_segment_names(scores)
    assert names.iloc[-1] == "champions" and names.iloc[0] == "hibernating"


def test_hiatus_rule():
    inactive = h.hiatus_inactive(recency=[0, 10, 30], T=[39, 39, 39], hiatus=26)
    assert inactive.tolist() == [True, True, False]
