"""Pareto/NBD with covariates over time (issue 22): the table's checks, the likelihood against a
direct numerical integration of the piecewise hazard, its gradient, the static model as the
special case of constant paths, the plain model at zero coefficients, recovery on simulated
data, predictions, model files and alignment by label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings, strategies as st
from numpy.polynomial.legendre import leggauss
from scipy import integrate, special

import clvmodels
from clvmodels import DataError, ModelFormatError
from clvmodels._math import pnbd, pnbd_dynamic

COVARIATES = dict(purchase_covariates=["season", "campaign", "income"],
                  dropout_covariates=["season", "income"])


@pytest.fixture(scope="module")
def base():
    tx, calendar, customers, end = clvmodels.simulate_time_varying(1500, seed=5)
    table = clvmodels.read_covariates_over_time(calendar, customer=None, freq="W")
    rfm = clvmodels.rfm_summary(tx, freq="D", time_unit="W", observation_end=end,
                                customers=customers, covariates_over_time=table)
    return tx, calendar, customers, end, table, rfm


@pytest.fixture(scope="module")
def fitted(base):
    *_, table, rfm = base
    return clvmodels.TimeVaryingParetoNBD(**COVARIATES).fit(rfm, table)


def future_table(calendar, weeks=60):
    """The calendar continued ``weeks`` beyond its end (the forecast's covariates)."""
    n = len(calendar) + weeks
    week = np.arange(n)
    return pd.DataFrame({
        "period": pd.date_range(calendar["period"].iloc[0], periods=n, freq="W-MON"),
        "season": np.sin(2 * np.pi * week / 52), "campaign": ((week % 13) < 2).astype(float)})


# -- the quadrature ---------------------------------------------------------------------------
def test_each_rule_meets_its_limit():
    """The table of rule limits, measured again: on (1 + e v)^-p, every (e, p) whose kappa_n is
    within a rule's limit is integrated to a relative 3e-11 (the source of RULE_LIMITS)."""
    for n, limit in zip(pnbd_dynamic.RULE_SIZES, pnbd_dynamic.RULE_LIMITS):
        x, w = leggauss(n)
        v, w = (x + 1) / 2, w / 2
        e, p = np.meshgrid(np.geomspace(1e-5, 10, 60), np.geomspace(0.01, 3000, 60))
        e, p = e.ravel(), p.ravel()
        kappa = e * (p + 2 * n) / (1 + e)
        e, p = e[kappa <= limit], p[kappa <= limit]
        exact = np.where(np.abs(p - 1) < 1e-12, np.log1p(e) / e,
                         -np.expm1((1 - p) * np.log1p(e)) / (e * (p - 1)))
        rule = (w * np.exp(-p[:, None] * np.log1p(e[:, None] * v))).sum(axis=1)
        assert np.max(np.abs(rule / exact - 1)) < 3e-11, n


def direct_loglik(params, spec, rfm, tx, calendar, i):
    """Customer ``i``'s log-likelihood by the definition: the multipliers from the calendar
    week by week, A and B their running sums, the death integral by adaptive quadrature (quad)
    over each week, and the purchase covariates read at the purchase days of the log (nothing
    from the pieces, the rules or the data layer's sums)."""
    r, alpha, s, beta, gp, gd = spec.split(params)
    enc = spec.encodings
    customer = rfm.index[i]
    x, t_x, T = rfm.iloc[i][["frequency", "recency", "T"]].to_numpy(dtype=float)
    days = np.sort(tx.loc[tx.customer_id == customer, "date"].to_numpy()
                   .astype("datetime64[D]").astype(np.int64))
    birth = days[0]
    start = calendar["period"].iloc[0].to_datetime64().astype("datetime64[D]").astype(np.int64)
    income = (rfm["income"].iloc[i] - enc["income"].mean) / enc["income"].scale

    def z(column, day):
        value = calendar[column].to_numpy()[int((day - start) // 7)]
        return (value - enc[column].mean) / enc[column].scale

    def a(t):
        day = birth + 7 * t
        return np.exp(gp[0] * income + gp[1] * z("season", day) + gp[2] * z("campaign", day))

    def b(t):
        day = birth + 7 * t
        return np.exp(gd[0] * income + gd[1] * z("season", day))

    edges = np.array(sorted({0.0, t_x, T, *[(start + 7 * k - birth) / 7 for k in range(200)
                                            if 0 < (start + 7 * k - birth) / 7 < T]}))
    mid = (edges[:-1] + edges[1:]) / 2
    a_k, b_k = np.array([a(t) for t in mid]), np.array([b(t) for t in mid])
    A_k = np.r_[0.0, np.cumsum(a_k * np.diff(edges))]  # A and B at the edges: exact sums
    B_k = np.r_[0.0, np.cumsum(b_k * np.diff(edges))]

    def cumulative(values, at, u):
        k = min(np.searchsorted(edges, u, side="right") - 1, len(values) - 1)
        return at[k] + values[k] * (u - edges[k])

    p = r + x
    alive = (alpha + A_k[-1]) ** -p * (beta + B_k[-1]) ** -s
    dead = sum(integrate.quad(lambda u: b(u) * (alpha + cumulative(a_k, A_k, u)) ** -p
                              * (beta + cumulative(b_k, B_k, u)) ** -(s + 1), lo, hi,
                              epsabs=0, epsrel=1e-13)[0]
               for lo, hi in zip(edges[:-1], edges[1:]) if lo >= t_x)
    repeat = np.unique(days)[1:]
    at_purchases = sum(gp[0] * income + gp[1] * z("season", d) + gp[2] * z("campaign", d)
                       for d in repeat)
    return (special.gammaln(p) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
            + at_purchases + np.log(alive + s * dead))


def test_likelihood_equals_direct_integration_of_the_piecewise_hazard(base, fitted):
    tx, calendar, _, _, table, rfm = base
    spec = fitted.spec_
    data = spec.prepare(rfm)
    params = fitted.params_.to_numpy() * np.r_[1.1, 0.9, 1.2, 0.8, np.full(5, 1.5)]
    ll = pnbd_dynamic.loglik_grad(*spec.split(params), data, gradient=False)[0]
    rows = np.r_[np.argsort(-rfm["frequency"].to_numpy())[:4], np.arange(0, len(rfm), 150)]
    for i in rows:
        assert ll[i] == pytest.approx(direct_loglik(params, spec, rfm, tx, calendar, i),
                                      abs=1e-8), i


def test_gradient_equals_differences_of_the_likelihood(base, fitted):
    *_, rfm = base
    spec = fitted.spec_
    data = spec.prepare(rfm)
    params = fitted.params_.to_numpy() * np.r_[1.1, 0.9, 1.2, 0.8, np.full(5, 1.5)]
    _, grad = spec.loglik_grad(params, data)
    for j in range(len(params)):
        h = 1e-6 * max(abs(params[j]), 1.0)
        up, down = params.copy(), params.copy()
        up[j] += h
        down[j] -= h
        numeric = (spec.loglik_grad(up, data)[0] - spec.loglik_grad(down, data)[0]) / (2 * h)
        assert grad[j] == pytest.approx(numeric, rel=1e-6, abs=1e-4), spec.param_names[j]
    assert np.abs(fitted.spec_.loglik_grad(fitted.params_.to_numpy(), data)[1]).max() < 1e-3


# -- special cases ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def constant(base):
    """A table per customer whose ``loyalty`` never changes, and the frame with it static."""
    tx, calendar, customers, end, _, _ = base
    rng = np.random.default_rng(1)
    loyalty = pd.Series(rng.normal(size=len(customers)), index=customers["customer_id"])
    periods = pd.date_range(calendar["period"].iloc[0], periods=len(calendar) + 30,
                            freq="W-MON")
    table = pd.DataFrame({"customer_id": np.repeat(loyalty.index, len(periods)),
                          "period": np.tile(periods, len(loyalty)),
                          "loyalty": np.repeat(loyalty.to_numpy(), len(periods))})
    over_time = clvmodels.read_covariates_over_time(table, freq="W")
    rfm = clvmodels.rfm_summary(tx, freq="D", time_unit="W", observation_end=end,
                                covariates_over_time=over_time)
    rfm["loyalty_static"] = loyalty.reindex(rfm.index).to_numpy()
    rfm["monetary_value"] = np.where(rfm["frequency"] > 0,
                                     rng.gamma(4, 10, len(rfm)), 0.0)
    return rfm, over_time


def test_covariates_constant_over_time_are_the_static_model(constant):
    rfm, over_time = constant
    dynamic = clvmodels.TimeVaryingParetoNBD(purchase_covariates=["loyalty"],
                                             dropout_covariates=["loyalty"]).fit(rfm, over_time)
    static = clvmodels.ParetoNBD(purchase_covariates=["loyalty_static"],
                                 dropout_covariates=["loyalty_static"]).fit(rfm)
    # the encoding, the optimum and its curvature are the static model's
    assert dynamic.spec_.encodings["loyalty"].mean == pytest.approx(
        static.spec_.design.encodings["loyalty_static"].mean, rel=1e-12)
    assert dynamic.log_likelihood_ == pytest.approx(static.log_likelihood_, abs=1e-7)
    np.testing.assert_allclose(dynamic.params_.to_numpy(), static.params_.to_numpy(),
                               rtol=1e-6)
    # both keep the Hessian of their first Newton step while the estimate moves less than
    # 1e-3 sqrt(n) standard errors (FitOptions.hessian_reuse), each from its own path: the
    # standard errors agree to that approximation (s and beta, weakly identified on 1,500
    # customers, move most)
    np.testing.assert_allclose(dynamic.standard_errors_.to_numpy(),
                               static.standard_errors_.to_numpy(), rtol=1e-2)
    # every prediction at the same parameters
    dynamic.params_[:] = static.params_.to_numpy()
    np.testing.assert_allclose(dynamic.probability_alive(rfm),
                               static.probability_alive(rfm), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dynamic.probability_alive(rfm, t=13),
                               static.probability_alive_at(rfm, 13), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dynamic.expected_purchases(rfm, 26),
                               static.expected_purchases(rfm, 26), rtol=1e-9, atol=1e-12)
    spend = clvmodels.GammaGamma().fit(rfm[rfm["frequency"] > 0])
    for discounting in ("periodic", "continuous"):
        np.testing.assert_allclose(
            clvmodels.customer_value(dynamic, spend, rfm, horizon=6, discounting=discounting),
            clvmodels.customer_value(static, spend, rfm, horizon=6, discounting=discounting),
            rtol=1e-9)


def test_zero_coefficients_are_the_plain_pareto_nbd(base, fitted):
    *_, rfm = base
    model = fitted.with_covariates_over_time(fitted.covariates_over_time_)
    plain = clvmodels.ParetoNBD().fit(rfm)
    model.params_ = model.params_.copy()
    model.params_[:] = np.r_[plain.params_.to_numpy(), np.zeros(5)]
    data = model.spec_.prepare(rfm)
    ll = pnbd_dynamic.loglik_grad(*model.spec_.split(model.params_.to_numpy()), data,
                                  gradient=False)[0]
    x, t_x, T = (rfm[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    np.testing.assert_allclose(ll, pnbd.loglik(*plain.params_.to_numpy(), x, t_x, T),
                               rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(model.probability_alive(rfm), plain.probability_alive(rfm),
                               rtol=1e-9, atol=1e-12)
    # DECT over a horizon long enough to be all of the future is DERT (Fader, Hardie & Lee
    # 2005), at the continuous rate log(1 + d)
    weeks = future_table(base[1], weeks=3900)
    head = rfm.head(40)
    dect = model.discounted_expected_transactions(
        head, 3800, 0.02, covariates_over_time=clvmodels.read_covariates_over_time(
            weeks, customer=None, freq="W"))
    # a table that changes the history is refused, not used
    changed = weeks.assign(season=weeks["season"] + (weeks.index == 30))
    with pytest.raises(DataError, match="another history of 'season'"):
        model.probability_alive(head, covariates_over_time=(
            clvmodels.read_covariates_over_time(changed, customer=None)))
    np.testing.assert_allclose(dect, plain.discounted_expected_residual_transactions(
        head, np.log(1.02)), rtol=1e-7)


@pytest.mark.slow
def test_a_seasonal_effect_on_both_processes_is_recovered():
    """10,000 customers simulated in continuous time: every coefficient (per raw unit) within
    two standard errors of the truth that generated the data, and the parameters too. (From a
    daily log, two purchases on one day are one occasion: at these rates about 2 % of the
    purchases merge, more in high season, which flattens the seasonal effect by 3 standard
    errors; the histories are therefore taken before the rounding to days.)"""
    truth_p = {"season": 0.5, "campaign": 0.4, "income": 0.0}
    truth_d = {"season": -0.4, "income": 0.25}
    rfm, calendar = clvmodels.simulate_time_varying(
        10_000, purchase_effects=truth_p, dropout_effects=truth_d, seed=11, histories=True)
    table = clvmodels.read_covariates_over_time(calendar, customer=None, freq="W")
    model = clvmodels.TimeVaryingParetoNBD(purchase_covariates=list(truth_p),
                                           dropout_covariates=list(truth_d)).fit(rfm, table)
    se = model.standard_errors_
    for name, value in (("r", 0.8), ("alpha", 8.0), ("s", 0.6), ("beta", 30.0)):
        assert abs(model.params_[name] - value) < 2 * se[name], name
    for param, truth in (("alpha", truth_p), ("beta", truth_d)):
        for column, value in truth.items():
            scale = model.spec_.encodings[column].scale
            name = f"{param}:{column}"
            assert abs(model.params_[name] / scale - value) < 2 * se[name] / scale, name
    test = model.likelihood_ratio_test(rfm)
    assert test["p_value"] < 1e-10


# -- predictions, files, labels ---------------------------------------------------------------
def test_predictions_need_the_paths_of_the_forecast(base, fitted):
    _, calendar, *_, rfm = base
    with pytest.raises(DataError, match=r"does not cover every customer on .* add rows up to"):
        fitted.expected_purchases(rfm, 10)
    longer = clvmodels.read_covariates_over_time(future_table(calendar), customer=None)
    expected = fitted.expected_purchases(rfm, 10, covariates_over_time=longer)
    assert (expected >= 0).all() and expected.sum() > 0
    # the covariates move the forecast: a campaign in every future week sells more
    boosted = future_table(calendar)
    boosted.loc[len(calendar):, "campaign"] = 1.0
    more = fitted.expected_purchases(rfm, 10, covariates_over_time=(
        clvmodels.read_covariates_over_time(boosted, customer=None)))
    assert (more >= expected - 1e-12).all() and more.sum() > 1.2 * expected.sum()
    interval = fitted.expected_purchases(rfm.head(20), 10, covariates_over_time=longer,
                                         interval=0.9, max_draws=200)
    assert (interval["lower"] <= interval["mean"]).all()
    assert (interval["mean"] <= interval["upper"]).all()
    np.testing.assert_allclose(interval["mean"], expected.head(20))
    pd.testing.assert_series_equal(fitted.expected_purchases(
        rfm, pd.Timedelta(weeks=10), covariates_over_time=longer), expected)


def test_a_model_file_round_trips(base, fitted, tmp_path):
    _, calendar, *_, rfm = base
    longer = clvmodels.read_covariates_over_time(future_table(calendar), customer=None)
    path = tmp_path / "tv.json"
    fitted.save(path)
    loaded = clvmodels.load(path)
    assert isinstance(loaded, clvmodels.TimeVaryingParetoNBD)
    pd.testing.assert_series_equal(loaded.params_, fitted.params_)
    with pytest.raises(DataError, match="a model file does not keep them"):
        loaded.probability_alive(rfm)
    for model in (loaded.with_covariates_over_time(longer), loaded):
        pd.testing.assert_series_equal(
            model.expected_purchases(rfm, 20, covariates_over_time=longer),
            fitted.expected_purchases(rfm, 20, covariates_over_time=longer))
    edited = loaded.to_dict()
    edited["covariates_over_time"]["processes"]["purchase"] = ["season"]
    with pytest.raises(ModelFormatError, match="do not match its settings"):
        clvmodels.TimeVaryingParetoNBD.from_dict(edited)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_predictions_follow_labels_not_positions(base, fitted, seed):
    """Rows of the frame and of a per-customer table in any order: the same prediction per
    customer."""
    _, calendar, customers, *_, rfm = base
    rng = np.random.default_rng(seed)
    longer = future_table(calendar)
    per_customer = longer.merge(customers[["customer_id"]].head(300), how="cross")
    shuffled = per_customer.sample(frac=1.0, random_state=seed)
    head = rfm.loc[customers["customer_id"].head(300)]
    reference = fitted.expected_purchases(head, 8, covariates_over_time=(
        clvmodels.read_covariates_over_time(per_customer, freq="W")))
    order = rng.permutation(len(head))
    moved = fitted.expected_purchases(head.iloc[order], 8, covariates_over_time=(
        clvmodels.read_covariates_over_time(shuffled, freq="W")))
    pd.testing.assert_series_equal(moved.sort_index(), reference.sort_index())


def test_a_customer_alone_gets_her_number_in_the_frame(base, fitted):
    """To the bit: her forecast's running sums are her own (a running sum over every customer's
    pieces, less its value at her first, gave 3 of 15 customers other last bits alone)."""
    _, calendar, *_, rfm = base
    longer = clvmodels.read_covariates_over_time(future_table(calendar), customer=None,
                                                 freq="W")
    head = rfm.iloc[:15]
    whole = fitted.expected_purchases(head, 8, covariates_over_time=longer)
    alone = [fitted.expected_purchases(head.iloc[[i]], 8, covariates_over_time=longer).iloc[0]
             for i in range(len(head))]
    np.testing.assert_array_equal(alone, whole.to_numpy())


@settings(max_examples=50, deadline=None)
@given(counts=st.lists(st.integers(0, 6), min_size=1, max_size=30), seed=st.integers(0, 1000))
@example(counts=[0] * 9 + [6], seed=1)  # one long customer among many empty: the loop
@example(counts=[5, 6, 5, 6], seed=2)  # as many pieces each: the padded table
def test_the_running_sums_of_a_customers_pieces_are_hers_alone(counts, seed):
    values = np.random.default_rng(seed).lognormal(size=sum(counts)) * 1e3
    starts = np.r_[0, np.cumsum(counts)]
    row = np.repeat(np.arange(len(counts)), counts)
    out = pnbd_dynamic.exclusive_cumsum(values, starts, row)
    for i, count in enumerate(counts):
        own = values[starts[i]:starts[i + 1]]
        alone = pnbd_dynamic.exclusive_cumsum(own, np.array([0, count]),
                                              np.zeros(count, dtype=int))
        np.testing.assert_array_equal(out[starts[i]:starts[i + 1]], alone)
        np.testing.assert_allclose(alone, np.cumsum(own) - own, rtol=1e-12, atol=1e-9)


def test_weights_are_repeated_customers(base):
    *_, table, rfm = base
    head = rfm.head(400)
    doubled = pd.concat([head, head.rename(index=lambda i: f"copy-{i}")])
    doubled.index = doubled.index.astype(str)
    twice = clvmodels.TimeVaryingParetoNBD(purchase_covariates=["season"]).fit(
        doubled, table)
    weighted = clvmodels.TimeVaryingParetoNBD(purchase_covariates=["season"]).fit(
        head.set_axis(head.index.astype(str)), table,
        weights=pd.Series(2.0, index=head.index.astype(str)))
    np.testing.assert_allclose(weighted.params_, twice.params_, rtol=1e-6)


# -- the table's checks -----------------------------------------------------------------------
def table_error(frame, **options):
    with pytest.raises(DataError) as info:
        clvmodels.read_covariates_over_time(frame, **options)
    return str(info.value)


def test_the_table_is_checked_with_the_first_offender():
    weeks = pd.date_range("2024-01-01", periods=5, freq="W-MON")
    good = pd.DataFrame({"customer_id": ["a"] * 5, "period": weeks, "promo": [0, 1, 0, 1, 0]})
    assert "do not start a week" in table_error(good.assign(
        period=weeks + pd.Timedelta(days=1)), freq="W")
    assert "2024-01-02" in table_error(good.assign(period=weeks + pd.Timedelta(days=1)))
    message = table_error(pd.concat([good, good.iloc[[2]]]))
    assert "customer 'a': two rows for the period starting 2024-01-15" in message
    message = table_error(good.drop(index=2))
    assert "no row for the period starting 2024-01-15" in message and "fill it in" in message
    assert "missing or infinite" in table_error(good.assign(promo=[0, 1, None, 1, 0]))
    assert "not numbers" in table_error(good.assign(promo=["0", "1", "x", "1", "0"]))
    assert "customer=None" in table_error(good.drop(columns="customer_id"))
    assert "no covariate column 'price'" in table_error(good, columns=["price"])
    indexed = clvmodels.read_covariates_over_time(good.set_index("customer_id"))
    assert list(indexed.ids) == ["a"]  # ids in the index are ids, not a shared path
    months = good.assign(period=pd.date_range("2024-01-01", periods=5, freq="MS"))
    assert clvmodels.read_covariates_over_time(months, freq="M").count.tolist() == [5]


def test_the_frame_and_the_model_are_checked(base, fitted):
    tx, calendar, customers, end, table, rfm = base
    with pytest.raises(DataError, match="time unit of a fixed number of days"):
        clvmodels.rfm_summary(tx, freq="D", time_unit="M", observation_end=end,
                              covariates_over_time=table)
    short = clvmodels.read_covariates_over_time(calendar.iloc[10:], customer=None)
    with pytest.raises(DataError, match="does not cover every customer on 2023-"):
        clvmodels.rfm_summary(tx, freq="D", time_unit="W", observation_end=end,
                              covariates_over_time=short)
    with pytest.raises(DataError, match="no 'first_purchase' column"):
        clvmodels.TimeVaryingParetoNBD(purchase_covariates=["season"]).fit(
            rfm.drop(columns="first_purchase"), table)
    with pytest.raises(DataError, match="neither a column of the RFM frame"):
        clvmodels.TimeVaryingParetoNBD(purchase_covariates=["price"]).fit(rfm, table)
    with pytest.raises(DataError, match="both a column of the RFM frame and"):
        clvmodels.TimeVaryingParetoNBD(purchase_covariates=["season"]).fit(
            rfm.assign(season=1.0), table)
    with pytest.raises(DataError, match="needs covariates"):
        clvmodels.TimeVaryingParetoNBD()
    with pytest.raises(DataError, match="a number >= 0"):
        fitted.expected_purchases(rfm, pd.Series(1.0, index=rfm.index))


def test_the_command_line_fits_and_scores_with_covariates_over_time(base, tmp_path, capsys):
    from clvmodels.cli import main

    tx, calendar, customers, end, table, rfm = base
    log = tx.assign(amount=np.random.default_rng(0).gamma(4, 10, len(tx)))
    log.to_csv(tmp_path / "log.csv", index=False)
    customers.to_csv(tmp_path / "customers.csv", index=False)
    calendar.to_csv(tmp_path / "weekly.csv", index=False)
    future_table(calendar).to_csv(tmp_path / "plan.csv", index=False)
    fit = ["fit", "--transactions", str(tmp_path / "log.csv"), "--observation-end", end,
           "--time-unit", "W", "--model", "pnbd_gg", "--customers",
           str(tmp_path / "customers.csv"), "--covariates-over-time",
           str(tmp_path / "weekly.csv"), "--purchase-covariates", "season,campaign,income",
           "--dropout-covariates", "season,income", "--out", str(tmp_path / "m.json")]
    assert main(fit) == 0
    assert "alpha:campaign" in capsys.readouterr().out
    model = clvmodels.TimeVaryingParetoNBD(**COVARIATES).fit(rfm, table)
    pair = clvmodels.load(tmp_path / "m.json")
    np.testing.assert_allclose(pair.purchases.params_, model.params_, rtol=1e-8)
    score = ["score", "--model", str(tmp_path / "m.json"), "--transactions",
             str(tmp_path / "log.csv"), "--observation-end", end, "--customers",
             str(tmp_path / "customers.csv"), "--horizon", "6", "--out",
             str(tmp_path / "scores.csv")]
    assert main(score) == 2  # no table: the message says which flag
    assert "--covariates-over-time" in capsys.readouterr().err
    assert main([*score, "--covariates-over-time", str(tmp_path / "weekly.csv")]) == 2
    assert "add rows up to" in capsys.readouterr().err
    assert not (tmp_path / "scores.csv").exists()
    assert main([*score, "--covariates-over-time", str(tmp_path / "plan.csv")]) == 0
    scores = pd.read_csv(tmp_path / "scores.csv", index_col="customer_id")
    plan = clvmodels.read_covariates_over_time(future_table(calendar), customer=None)
    weeks = 6 * 365.25 / 12 / 7
    np.testing.assert_allclose(
        scores["expected_purchases"],
        model.expected_purchases(rfm, weeks, covariates_over_time=plan).reindex(scores.index),
        rtol=1e-7)
    assert main([*fit[:-2], "--model", "bgnbd_gg", "--out", str(tmp_path / "x.json")]) == 2
    assert "use --model pnbd_gg" in capsys.readouterr().err


def test_probability_of_any_purchase(base, fitted, constant):
    """Constant paths: Pareto/NBD's own (its quadrature against ours); over time: between 0
    and P(alive), growing with the window, and equal to a direct integration."""
    rfm, over_time = constant
    dynamic = clvmodels.TimeVaryingParetoNBD(purchase_covariates=["loyalty"],
                                             dropout_covariates=["loyalty"]).fit(rfm, over_time)
    static = clvmodels.ParetoNBD(purchase_covariates=["loyalty_static"],
                                 dropout_covariates=["loyalty_static"]).fit(rfm)
    dynamic.params_[:] = static.params_.to_numpy()
    np.testing.assert_allclose(dynamic.probability_any_purchase(rfm, 20),
                               static.probability_any_purchase(rfm, 20), rtol=1e-8, atol=1e-12)
    _, calendar, *_, frame = base
    longer = clvmodels.read_covariates_over_time(future_table(calendar), customer=None)
    short = fitted.probability_any_purchase(frame, 4, covariates_over_time=longer)
    long = fitted.probability_any_purchase(frame, 30, covariates_over_time=longer)
    alive = fitted.probability_alive(frame, covariates_over_time=longer)
    assert ((0 <= short) & (short <= long + 1e-12) & (long <= alive + 1e-12)).all()


def test_the_backtest_compares_with_and_without_covariates_over_time(base, tmp_path, capsys):
    """On a base whose season and campaigns move the purchase rate, the model with them beats
    the one without on the holdout, with a paired interval that excludes zero; the command line
    runs the same comparison."""
    tx, calendar, customers, end, *_ = base
    log = tx.assign(amount=np.random.default_rng(1).gamma(4, 10, len(tx)))
    table = clvmodels.read_covariates_over_time(calendar, customer=None)
    covariates = {"purchase_covariates": ["season", "campaign"],
                  "dropout_covariates": ["season", "income"]}
    methods = ["pnbd_gg", "pnbd_gg+covariates_over_time"]
    result = clvmodels.backtest(log, calibration_end="2024-06-30", observation_end=end,
                                methods=methods, customers=customers, covariates=covariates,
                                covariates_over_time=table)
    assert result.failures == {}
    summary = result.summary()
    assert summary.loc["pnbd_gg+covariates_over_time", "purchases_mae"] < summary.loc[
        "pnbd_gg", "purchases_mae"]
    gap = result.difference("purchases_mae", "pnbd_gg+covariates_over_time", "pnbd_gg")
    assert gap["upper"] < 0
    with pytest.raises(DataError, match="needs the table of covariates over time"):
        clvmodels.backtest(log, calibration_end="2024-06-30", observation_end=end,
                           methods=methods, covariates=covariates)
    from clvmodels.cli import main

    log.to_csv(tmp_path / "log.csv", index=False)
    customers.to_csv(tmp_path / "customers.csv", index=False)
    calendar.to_csv(tmp_path / "weekly.csv", index=False)
    code = main(["backtest", "--transactions", str(tmp_path / "log.csv"), "--calibration-end",
                 "2024-06-30", "--observation-end", end, "--time-unit", "W", "--methods",
                 *methods, "--customers", str(tmp_path / "customers.csv"),
                 "--covariates-over-time", str(tmp_path / "weekly.csv"),
                 "--purchase-covariates", "season,campaign", "--dropout-covariates",
                 "season,income", "--out", str(tmp_path / "bt")])
    assert code == 0, capsys.readouterr().err
    metrics = pd.read_csv(tmp_path / "bt" / "metrics.csv")
    assert set(metrics["method"]) == set(methods)


def test_predictions_from_several_threads_at_once(base, fitted):
    """Threads (a web server's, a pool's) use the one-thread kernel: numba's parallel loop,
    entered by two threads at once, would abort the process. The same numbers as from the main
    thread."""
    from concurrent.futures import ThreadPoolExecutor

    _, calendar, *_, rfm = base
    longer = clvmodels.read_covariates_over_time(future_table(calendar), customer=None)
    reference = fitted.expected_purchases(rfm, 12, covariates_over_time=longer)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: fitted.expected_purchases(
            rfm, 12, covariates_over_time=longer), range(4)))
    for result in results:
        np.testing.assert_allclose(result, reference, rtol=1e-13)


@pytest.mark.slow
def test_dask_scores_with_covariates_over_time_equal_the_local_engine(base, fitted, tmp_path):
    """The Dask engine builds each partition's frame with the table (sent once, as one node of
    the graph) and scores it with the model on that table: every customer's score equals the
    local engine's, by label. The RFM frame of dask_engine.rfm_summary with the table equals
    the local one, its over-time columns included."""
    import dask.dataframe as dd

    from clvmodels import dask_engine
    from clvmodels.batch import score_file

    tx, calendar, customers, end, table, rfm = base
    log = tx.assign(amount=np.random.default_rng(0).gamma(4, 10, len(tx)))
    log.to_csv(tmp_path / "log.csv", index=False)
    customers.to_csv(tmp_path / "customers.csv", index=False)
    pd.DataFrame(future_table(calendar)).to_csv(tmp_path / "plan.csv", index=False)
    gg = clvmodels.GammaGamma().fit(clvmodels.rfm_summary(log, amount="amount", time_unit="W",
                                                          observation_end=end))
    pair = clvmodels.ModelPair(fitted, gg)
    pair.save(tmp_path / "m.json")
    common = dict(transactions=tmp_path / "log.csv", observation_end=end, time_unit="W",
                  customers=tmp_path / "customers.csv", covariates_over_time=tmp_path / "plan.csv",
                  horizon=6, quiet=True, stream_options={"amount": "amount"})
    score_file(tmp_path / "m.json", tmp_path / "local.csv", engine="local", **common)
    score_file(tmp_path / "m.json", tmp_path / "dask.csv", engine="dask", **common)
    local = pd.read_csv(tmp_path / "local.csv", index_col="customer_id").sort_index()
    on_dask = pd.read_csv(tmp_path / "dask.csv", index_col="customer_id").sort_index()
    assert len(local) == 1500 and on_dask.index.equals(local.index)
    pd.testing.assert_frame_equal(on_dask[local.columns], local, rtol=1e-12)
    frame = dask_engine.rfm_summary(dd.from_pandas(tx, npartitions=3), observation_end=end,
                                    time_unit="W", amount=None, covariates_over_time=table)
    built = frame.compute().set_index("customer_id").sort_index()
    assert any(c.startswith("history:") for c in built.columns)
    pd.testing.assert_frame_equal(built, rfm[built.columns].sort_index(), check_dtype=False,
                                  rtol=1e-12)
