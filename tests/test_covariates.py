"""Covariates (issue 13): recovery of true coefficients from simulated bases, the
likelihood-ratio test, the model without covariates as the special case with every coefficient
0, exact derivatives, predictions per customer, model files, the command line, and every kind
of bad covariate refused before fitting."""

import json

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels import DataError, ModelFormatError
from clvmodels.cli import main
from clvmodels.models.base import prepare_fit
from clvmodels.models.shifted_beta_geo import simulate_subscriptions

PURCHASE = {"alpha": {"channel[search]": 0.4, "channel[store]": -0.3, "age": 0.25}}
BG_DROPOUT = {"a": {"channel[social]": 0.5}, "b": {"age": -0.3}}
PNBD_DROPOUT = {"beta": {"channel[social]": 0.5, "age": -0.3}}
SPEND = {"v": {"channel[store]": 0.3, "first_order": 0.25}}


def simulated(n, model="bgnbd", coefficients=None, seed=2):
    customers = clvmodels.simulate_customers(n, seed=seed)
    tx = clvmodels.simulate_transactions(n, seed=seed + 1, customers=customers,
                                         coefficients=coefficients, model=model)
    rfm = clvmodels.rfm_summary(tx, observation_end=tx.attrs["observation_end"],
                                time_unit="W", amount="amount", customers=customers)
    return rfm, tx.attrs


def assert_recovered(model, truth: dict, base: dict, z=4.0):
    """Every true coefficient, and the reference customer's parameters, within ``z`` standard
    errors of the estimate (coefficients not in ``truth`` are 0)."""
    se = model.standard_errors_
    for name in model.parameter_names_:
        if ":" in name:
            param, column = name.split(":", 1)
            true = truth.get(param, {}).get(column, 0.0)
        else:
            true = base[name]
        error = abs(model.params_[name] - true) / se[name]
        assert error < z, f"{name}: estimate {model.params_[name]:.4f}, truth {true}, se {se[name]:.4f}"


@pytest.fixture(scope="module")
def bg_base():
    return simulated(20_000, coefficients={**PURCHASE, **BG_DROPOUT, **SPEND})


@pytest.fixture(scope="module")
def bg_fit(bg_base):
    rfm, _ = bg_base
    return clvmodels.BetaGeo(purchase_covariates=["channel", "age"],
                             dropout_covariates=["channel", "age"]).fit(rfm)


# -- recovery -----------------------------------------------------------------------------------
def test_bgnbd_recovers_the_true_coefficients(bg_base, bg_fit):
    _, attrs = bg_base
    assert_recovered(bg_fit, {**PURCHASE, **BG_DROPOUT}, attrs["bgnbd"])
    table = bg_fit.coefficients_
    row = table.loc[("purchase", "alpha", "channel[search]")]
    assert row["multiplies"] == "purchase rate"
    assert row["multiplier"] == pytest.approx(np.exp(row["coefficient"]))
    assert row["p_value"] < 1e-6


def test_mbgnbd_recovers_the_true_coefficients():
    rfm, attrs = simulated(20_000, "mbgnbd", {**PURCHASE, **BG_DROPOUT}, seed=5)
    model = clvmodels.ModifiedBetaGeo(purchase_covariates=["channel", "age"],
                                      dropout_covariates=["channel", "age"]).fit(rfm)
    assert_recovered(model, {**PURCHASE, **BG_DROPOUT}, attrs["bgnbd"])
    assert model.likelihood_ratio_test()["p_value"] < 1e-10


@pytest.mark.slow
def test_pareto_nbd_recovers_the_true_coefficients():
    rfm, attrs = simulated(6_000, "pnbd", {"alpha": {"channel[search]": 0.5, "age": 0.3},
                                          "beta": {"age": -0.4}}, seed=7)
    model = clvmodels.ParetoNBD(purchase_covariates=["channel", "age"],
                                dropout_covariates=["age"]).fit(rfm)
    assert_recovered(model, {"alpha": {"channel[search]": 0.5, "age": 0.3},
                             "beta": {"age": -0.4}}, attrs["bgnbd"])
    assert model.coefficients_.loc[("dropout", "beta", "age"), "multiplies"] == "dropout rate"
    test = model.likelihood_ratio_test()
    assert test["df"] == 5 and test["p_value"] < 1e-10


def test_gamma_gamma_spend_moves_with_the_covariates(bg_base):
    rfm, attrs = bg_base
    model = clvmodels.GammaGamma(spend_covariates=["channel", "first_order"]).fit(rfm)
    assert_recovered(model, SPEND, attrs["gamma_gamma"])
    assert model.likelihood_ratio_test()["p_value"] < 1e-10
    spend = model.expected_spend(rfm)
    # a customer without repeat purchases gets her covariates' mean, p v_i / (q - 1), the
    # numeric covariate standardised over the frame the model was fitted on
    p, q, v = model.params_[["p", "q", "v"]]
    new = rfm[rfm["frequency"] == 0].iloc[:50]
    z = (new["first_order"] - rfm["first_order"].mean()) / rfm["first_order"].std(ddof=0)
    v_i = v * np.exp(model.params_["v:first_order"] * z
                     + model.params_["v:channel[store]"] * (new["channel"] == "store")
                     + model.params_["v:channel[search]"] * (new["channel"] == "search")
                     + model.params_["v:channel[social]"] * (new["channel"] == "social"))
    np.testing.assert_allclose(spend[new.index], p * v_i / (q - 1), rtol=1e-12)


def test_sbg_recovers_plan_and_channel_effects():
    customers = clvmodels.simulate_customers(20_000, seed=3)
    truth = {"alpha": {"channel[store]": 0.6}, "beta": {"age": 0.3}}
    frame = simulate_subscriptions(20_000, alpha=0.7, beta=1.5, periods=12, seed=4,
                                   customers=customers, coefficients=truth)
    model = clvmodels.ShiftedBetaGeo(dropout_covariates=["channel", "age"]).fit(frame)
    assert_recovered(model, truth, {"alpha": 0.7, "beta": 1.5})
    assert model.likelihood_ratio_test()["p_value"] < 1e-10
    survival = model.survival([1, 6], customers=customers.iloc[:3])
    assert survival.shape == (3, 2) and (survival[6.0] < survival[1.0]).all()
    assert model.expected_residual_lifetime(frame.iloc[:5], 0.1).notna().all()


# -- the model without covariates is the special case ----------------------------------------
@pytest.mark.parametrize("cls, kwargs", [
    (clvmodels.BetaGeo, {"purchase_covariates": ["channel", "age"],
                         "dropout_covariates": ["age"]}),
    (clvmodels.ModifiedBetaGeo, {"purchase_covariates": ["age"], "dropout_covariates": ["channel"]}),
    (clvmodels.ParetoNBD, {"purchase_covariates": ["age"], "dropout_covariates": ["channel"]}),
    (clvmodels.GammaGamma, {"spend_covariates": ["channel", "first_order"]}),
])
def test_zero_coefficients_are_the_model_without_covariates(cls, kwargs):
    rfm, _ = simulated(3_000, seed=11)
    plain = cls().fit(rfm)
    model = cls(**kwargs).fit(rfm)
    spec, data, _ = prepare_fit(model, rfm, None)
    zero = np.r_[plain.params_.to_numpy(), np.zeros(len(model.parameter_names_) - len(plain.params_))]
    assert spec.loglik_grad(zero, data)[0] == pytest.approx(plain.log_likelihood_, rel=1e-12)
    # the restricted fit behind the likelihood-ratio test is the plain fit
    np.testing.assert_allclose(spec.restricted.params, plain.params_, rtol=1e-6)
    model.params_ = pd.Series(zero, index=model.parameter_names_)
    if cls is clvmodels.GammaGamma:
        pairs = [(model.expected_spend(rfm), plain.expected_spend(rfm))]
    else:
        pairs = [(model.expected_purchases(rfm, 10), plain.expected_purchases(rfm, 10)),
                 (model.probability_alive(rfm), plain.probability_alive(rfm))]
    for with_zero, without in pairs:
        np.testing.assert_allclose(with_zero, without, rtol=1e-10, atol=1e-14)


def test_simulating_with_no_coefficients_is_the_plain_simulator():
    customers = clvmodels.simulate_customers(500, seed=1)
    plain = clvmodels.simulate_transactions(500, seed=4)
    same = clvmodels.simulate_transactions(500, seed=4, customers=customers)
    pd.testing.assert_frame_equal(plain, same)


# -- the likelihood-ratio test ----------------------------------------------------------------
def test_likelihood_ratio_test(bg_base, bg_fit):
    rfm, _ = bg_base
    plain = clvmodels.BetaGeo().fit(rfm)
    test = bg_fit.likelihood_ratio_test()
    assert test["statistic"] == pytest.approx(
        2 * (bg_fit.log_likelihood_ - plain.log_likelihood_), rel=1e-9)
    assert test["df"] == len(bg_fit.parameter_names_) - 4 and test["p_value"] < 1e-10
    pd.testing.assert_series_equal(clvmodels.likelihood_ratio_test(plain, bg_fit), test,
                                   rtol=1e-9)
    with pytest.raises(DataError, match="nested"):
        clvmodels.likelihood_ratio_test(bg_fit, plain)
    with pytest.raises(DataError, match="not nested in a GammaGamma"):
        clvmodels.likelihood_ratio_test(plain, clvmodels.GammaGamma().fit(rfm))
    with pytest.raises(DataError, match="no covariates to test"):
        plain.likelihood_ratio_test()


def test_the_likelihood_ratio_test_holds_its_level_under_the_null():
    """Covariates unrelated to anything: the p-values are uniform (30 noise columns; at the
    5 % level about 1.5 rejections are expected, 5 or more happen with probability 2 %)."""
    rfm, _ = simulated(3_000, seed=41)
    p_values = []
    for seed in range(30):
        noise = rfm.assign(noise=np.random.default_rng(seed).normal(size=len(rfm)))
        test = clvmodels.BetaGeo(purchase_covariates=["noise"],
                                 dropout_covariates=["noise"]).fit(noise).likelihood_ratio_test()
        assert test["df"] == 3
        p_values.append(test["p_value"])
    p_values = np.array(p_values)
    assert (p_values < 0.05).sum() < 5 and 0.3 < p_values.mean() < 0.7


# -- derivatives ---------------------------------------------------------------------------
@pytest.mark.parametrize("cls, kwargs", [
    (clvmodels.BetaGeo, {"purchase_covariates": ["channel", "age"], "dropout_covariates": ["age"]}),
    (clvmodels.ModifiedBetaGeo, {"purchase_covariates": ["age"], "dropout_covariates": ["channel"]}),
    (clvmodels.ParetoNBD, {"purchase_covariates": ["channel"], "dropout_covariates": ["age"]}),
    (clvmodels.GammaGamma, {"spend_covariates": ["channel", "age"]}),
])
def test_gradient_and_hessian_are_the_derivatives_of_the_likelihood(cls, kwargs):
    rfm, _ = simulated(1_500, seed=13)
    spec, data, _ = prepare_fit(cls(**kwargs), rfm, None)
    rng = np.random.default_rng(0)
    k = len(spec.base_names)
    x = np.r_[spec.restricted.params, rng.normal(0, 0.2, len(spec.param_names) - k)]
    value, gradient = spec.loglik_grad(x, data)
    hessian = spec.loglik_hessian(x, data)
    for j in range(len(x)):
        h = 1e-6 * max(abs(x[j]), 1.0)
        step = np.zeros(len(x))
        step[j] = h
        up, down = spec.loglik_grad(x + step, data), spec.loglik_grad(x - step, data)
        assert (up[0] - down[0]) / (2 * h) == pytest.approx(gradient[j], rel=1e-5, abs=1e-3)
        np.testing.assert_allclose((up[1] - down[1]) / (2 * h), hessian[:, j], rtol=1e-3,
                                   atol=1e-3 * np.abs(hessian).max())


def test_sbg_gradient_is_the_derivative():
    customers = clvmodels.simulate_customers(800, seed=3)
    frame = simulate_subscriptions(800, alpha=0.7, beta=1.5, periods=8, seed=4,
                                   customers=customers, coefficients={"alpha": {"age": 0.3}})
    spec, data, _ = prepare_fit(clvmodels.ShiftedBetaGeo(dropout_covariates=["age", "channel"]),
                             frame, None)
    x = np.r_[spec.restricted.params, np.linspace(-0.2, 0.2, len(spec.param_names) - 2)]
    gradient = spec.loglik_grad(x, data)[1]
    for j in range(len(x)):
        step = np.zeros(len(x))
        step[j] = 1e-6
        fd = (spec.loglik_grad(x + step, data)[0] - spec.loglik_grad(x - step, data)[0]) / 2e-6
        assert fd == pytest.approx(gradient[j], rel=1e-5, abs=1e-4)


# -- predictions -----------------------------------------------------------------------------
def test_predictions_use_each_customers_covariates(bg_base, bg_fit):
    rfm, _ = bg_base
    one = rfm.iloc[[0]]
    twins = pd.concat([one] * 4)
    twins.index = [0, 1, 2, 3]
    twins["channel"] = pd.Categorical(["email", "search", "social", "store"],
                                      categories=rfm["channel"].cat.categories)
    twins.attrs.update(rfm.attrs)
    expected = bg_fit.expected_purchases(twins, 10)
    # search buys faster (coefficient +0.4 on the purchase rate), store slower (-0.3)
    assert expected[1] > expected[0] > expected[3]
    # a customer's answer does not depend on who else is scored with her
    np.testing.assert_allclose(bg_fit.expected_purchases(rfm, 10).iloc[:25],
                               bg_fit.expected_purchases(rfm.iloc[:25], 10), rtol=1e-12)
    interval = bg_fit.expected_purchases(rfm.iloc[:100], 10, interval=0.9)
    assert (interval["lower"] <= interval["mean"]).all() and (
        interval["mean"] <= interval["upper"]).all()
    new = clvmodels.simulate_customers(3, seed=9)
    values = bg_fit.expected_purchases_new_customer(52, customers=new)
    assert list(values.index) == [0, 1, 2] and (values > 0).all()
    assert bg_fit.probability_of_purchases(0, 52, customers=new).between(0, 1).all()
    with pytest.raises(DataError, match="give customers= a DataFrame"):
        bg_fit.expected_purchases_new_customer(52)
    value = clvmodels.customer_value(bg_fit, clvmodels.GammaGamma().fit(rfm), rfm.iloc[:50],
                                     horizon=12)
    assert np.isfinite(value).all()


def test_the_command_line_fits_and_scores_with_a_customer_table(tmp_path, capsys):
    customers = clvmodels.simulate_customers(2_000, seed=1)
    tx = clvmodels.simulate_transactions(2_000, seed=2, customers=customers,
                                         coefficients=PURCHASE)
    tx.to_csv(tmp_path / "tx.csv", index=False)
    customers.reset_index().to_parquet(tmp_path / "customers.parquet")
    end = tx.attrs["observation_end"]
    code = main(["fit", "--transactions", str(tmp_path / "tx.csv"), "--observation-end", end,
                 "--time-unit", "W",
                 "--customers", str(tmp_path / "customers.parquet"), "--purchase-covariates",
                 "channel,age", "--spend-covariates", "first_order", "--out",
                 str(tmp_path / "model.json")])
    out = capsys.readouterr().out
    assert code == 0 and "likelihood-ratio test of the covariates" in out
    saved = json.loads((tmp_path / "model.json").read_text())
    assert saved["purchases"]["covariates"]["processes"] == {"purchase": ["channel", "age"]}
    code = main(["score", "--model", str(tmp_path / "model.json"), "--transactions",
                 str(tmp_path / "tx.csv"), "--observation-end", end, "--customers",
                 str(tmp_path / "customers.parquet"), "--out", str(tmp_path / "scores.csv")])
    assert code == 0
    scores = pd.read_csv(tmp_path / "scores.csv").set_index("customer_id")
    model = clvmodels.load(tmp_path / "model.json")
    rfm = clvmodels.rfm_summary(tx, observation_end=end, amount="amount", time_unit="W",
                                customers=customers)
    np.testing.assert_allclose(scores["expected_purchases"].sort_index(),
                               model.purchases.expected_purchases(
                                   rfm, 12 * 365.25 / 12 / 7).sort_index(), rtol=1e-9)
    code = main(["score", "--model", str(tmp_path / "model.json"), "--transactions",
                 str(tmp_path / "tx.csv"), "--observation-end", end, "--out",
                 str(tmp_path / "none.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "give --customers" in err and not (tmp_path / "none.csv").exists()
    code = main(["fit", "--transactions", str(tmp_path / "tx.csv"), "--observation-end", end,
                 "--customers", str(tmp_path / "customers.parquet"), "--purchase-covariates",
                 "region", "--out", str(tmp_path / "bad.json")])
    err = capsys.readouterr().err
    assert code == 2 and "'region' (in --purchase-covariates)" in err


# -- model files ---------------------------------------------------------------------------
def test_a_saved_model_scores_new_data_the_same(bg_base, bg_fit, tmp_path):
    rfm, _ = bg_base
    bg_fit.save(tmp_path / "m.json")
    loaded = clvmodels.load(tmp_path / "m.json")
    assert list(loaded.parameter_names_) == list(bg_fit.parameter_names_)
    # covariates wrap the specification: the model's own parameters stay its own
    assert loaded.param_names == bg_fit.param_names == ("r", "alpha", "a", "b")
    assert "param_names" not in vars(bg_fit) and "param_names" not in vars(loaded)
    np.testing.assert_allclose(loaded.expected_purchases(rfm, 10),
                               bg_fit.expected_purchases(rfm, 10), rtol=1e-12)
    pd.testing.assert_series_equal(loaded.likelihood_ratio_test(), bg_fit.likelihood_ratio_test())
    unseen = rfm.iloc[:3].copy()
    unseen["channel"] = unseen["channel"].astype(str)
    unseen.iloc[1, unseen.columns.get_loc("channel")] = "tv"
    with pytest.raises(DataError, match="'tv'.*never saw"):
        loaded.expected_purchases(unseen, 10)
    data = json.loads((tmp_path / "m.json").read_text())
    data["covariates"]["encodings"][1]["scale"] = -1.0
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ModelFormatError, match="encoding of 'age'"):
        clvmodels.load(tmp_path / "bad.json")


@pytest.mark.slow
def test_bayesian_bgnbd_with_covariates(tmp_path):
    rfm, _ = simulated(4_000, coefficients=PURCHASE, seed=21)
    kwargs = {"purchase_covariates": ["channel", "age"]}
    mle = clvmodels.BetaGeo(**kwargs).fit(rfm)
    model = clvmodels.BayesianBetaGeo(draws=300, tune=300, chains=2, random_state=1,
                                      **kwargs).fit(rfm)
    summary = model.summary()
    assert "alpha:channel[search]" in summary.index and summary["r_hat"].max() <= 1.01
    for name in mle.parameter_names_:  # a flat-ish prior: the posterior sits on the likelihood
        assert abs(model.params_[name] - mle.params_[name]) < 0.3 * mle.standard_errors_[name] + (
            0.05 * abs(mle.params_[name]))
    interval = model.probability_alive(rfm.iloc[:20], interval=0.9)
    assert (interval["lower"] <= interval["upper"]).all()
    model.save(tmp_path / "b.json")
    loaded = clvmodels.load(tmp_path / "b.json")
    np.testing.assert_allclose(loaded.expected_purchases(rfm.iloc[:50], 10),
                               model.expected_purchases(rfm.iloc[:50], 10), rtol=1e-12)


# -- bad input ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small():
    rfm, _ = simulated(1_000, seed=31)
    return rfm


@pytest.mark.parametrize("change, kwargs, message", [
    (None, {"purchase_covariates": ["region"]},
     "covariate column 'region' (in purchase_covariates=) is not in the frame"),
    (lambda f: f.assign(age=f["age"].where(f.index != 7)), {"purchase_covariates": ["age"]},
     "'age' has 1 missing value(s) (first: customer 7)"),
    (lambda f: f.assign(when=pd.Timestamp("2020-01-01")), {"dropout_covariates": ["when"]},
     "values, neither numbers nor categories; convert it (a date to a number"),
    (lambda f: f.assign(flat=3.0), {"purchase_covariates": ["flat"]},
     "'flat' (in purchase_covariates=) is constant"),
    (lambda f: f.assign(one="web"), {"purchase_covariates": ["one"]}, "has one value only"),
    (lambda f: f.assign(age2=2 * f["age"] + 1), {"purchase_covariates": ["age", "age2"]},
     "'age2' (in purchase_covariates=) is a linear combination"),
    (lambda f: f.assign(age=f["age"].where(f.index != 3, np.inf)), {"purchase_covariates": ["age"]},
     "infinite value(s) (first: customer 3"),
    (lambda f: f.assign(mixed=pd.Series(["a", 1] * (len(f) // 2), index=f.index,
                                         dtype=object)),
     {"purchase_covariates": ["mixed"]}, "mixes str and int values"),
    (lambda f: f.assign(id_like=f.index.astype(str)), {"purchase_covariates": ["id_like"]},
     "looks like an identifier"),
    (None, {"purchase_covariates": ["age", "age"]}, "lists a column twice"),
])
def test_bad_covariates_are_refused_before_fitting(small, change, kwargs, message):
    frame = small if change is None else change(small)
    frame.attrs.update(small.attrs)
    with pytest.raises(DataError) as err:
        clvmodels.BetaGeo(**kwargs).fit(frame)
    assert message in str(err.value)


def test_unknown_covariate_arguments_are_refused():
    with pytest.raises(TypeError, match="its covariate arguments are.*dropout_covariates"):
        clvmodels.BetaGeo(spend_covariates=["age"])
    with pytest.raises(TypeError, match="it takes no covariates"):
        clvmodels.BetaGeoBetaBinom(purchase_covariates=["age"])


def test_customer_tables_are_checked_when_joined(tmp_path):
    tx = clvmodels.simulate_transactions(300, seed=1)
    customers = clvmodels.simulate_customers(300, seed=1)
    end = tx.attrs["observation_end"]
    with pytest.raises(DataError, match=r"no row for 1 customer\(s\) of the transactions \(first: 5\)"):
        clvmodels.rfm_summary(tx, observation_end=end, customers=customers.drop(index=5))
    with pytest.raises(DataError, match="customer 4 more than once"):
        clvmodels.rfm_summary(tx, observation_end=end,
                              customers=pd.concat([customers, customers.iloc[[4]]]))
    with pytest.raises(DataError, match="column 'frequency' that the RFM frame computes"):
        clvmodels.rfm_summary(tx, observation_end=end,
                              customers=customers.assign(frequency=1))
    customers.reset_index().to_csv(tmp_path / "c.csv", index=False)  # ids come back as numbers
    rfm = clvmodels.rfm_summary(tx, observation_end=end, customers=tmp_path / "c.csv")
    assert rfm["channel"].notna().all() and rfm.attrs["time_unit"] == "D"
    with pytest.raises(DataError, match="has no 'customer_id' column"):
        clvmodels.rfm_summary(tx, observation_end=end,
                              customers=_renamed(tmp_path, customers))


def _renamed(tmp_path, customers):
    path = tmp_path / "renamed.csv"
    customers.reset_index().rename(columns={"customer_id": "id"}).to_csv(path, index=False)
    return path


def test_pareto_nbd_per_customer_quadrature_against_the_exact_likelihood():
    """The window integral by tanh-sinh (with its fallbacks) against the exact likelihood on
    random points across six orders of magnitude of each parameter, and against 30-digit
    quadrature at a few; its gradient against differences of the exact likelihood."""
    import mpmath

    from clvmodels._math import pnbd

    rng = np.random.default_rng(5)
    n = 20_000
    x = rng.poisson(np.exp(rng.normal(0, 1.5, n))).astype(float)
    T = rng.uniform(1, 100, n)
    t_x = np.where(x > 0, T * rng.uniform(0, 1, n), 0)
    r, s = np.exp(rng.normal(-0.5, 1, n)), np.exp(rng.normal(-0.5, 1, n))
    alpha, beta = np.exp(rng.normal(2, 2, n)), np.exp(rng.normal(2, 2, n))
    ll, grads = pnbd.row_loglik_grad(r, alpha, s, beta, x, t_x, T)
    np.testing.assert_allclose(ll, pnbd.loglik(r, alpha, s, beta, x, t_x, T), rtol=0, atol=1e-6)
    _, exact = pnbd.differenced_row_loglik_grad(r, alpha, s, beta, x, t_x, T)
    for mine, theirs in zip(grads, exact):
        assert np.max(np.abs(mine - theirs) / (np.abs(theirs) + 1)) < 1e-5
    mpmath.mp.dps = 30
    for i in rng.choice(np.flatnonzero(T > t_x), 5, replace=False):
        p, q, a, b, lo, hi = (float(v) for v in (r[i] + x[i], s[i] + 1, alpha[i], beta[i],
                                                 t_x[i], T[i]))
        truth = mpmath.log(mpmath.quad(lambda u: (a + u) ** -p * (b + u) ** -q, [lo, hi]))
        log_w = pnbd.window_and_gradient(*(np.array([v]) for v in (p, q, a, b, lo, hi)), 1)[0]
        assert float(log_w[0]) == pytest.approx(float(truth), abs=1e-7)


def test_sbg_with_zero_coefficients_is_the_sbg():
    customers = clvmodels.simulate_customers(2_000, seed=3)
    frame = simulate_subscriptions(2_000, alpha=0.7, beta=1.5, periods=8, seed=4,
                                   customers=customers)
    plain = clvmodels.ShiftedBetaGeo().fit(frame)
    model = clvmodels.ShiftedBetaGeo(dropout_covariates=["channel", "age"]).fit(frame)
    spec, data, _ = prepare_fit(model, frame, None)
    zero = np.r_[plain.params_.to_numpy(), np.zeros(len(model.parameter_names_) - 2)]
    assert spec.loglik_grad(zero, data)[0] == pytest.approx(plain.log_likelihood_, rel=1e-12)
    model.params_ = pd.Series(zero, index=model.parameter_names_)
    np.testing.assert_allclose(model.expected_residual_lifetime(frame, 0.1),
                               plain.expected_residual_lifetime(frame, 0.1), rtol=1e-12)
    assert model.likelihood_ratio_test()["p_value"] > 0.001  # no true effect


def test_categorical_covariates_keep_the_compression_and_weights_count_customers():
    """With categorical covariates only, customers sharing a history and a level are one row
    with a count; a table of such rows with weights fits exactly like the customers."""
    rfm, _ = simulated(5_000, coefficients=PURCHASE, seed=17)
    model = clvmodels.BetaGeo(purchase_covariates=["channel"], dropout_covariates=["channel"])
    spec, data, _ = prepare_fit(model, rfm, None)
    assert len(data.weights) < 0.6 * len(rfm) and data.n == len(rfm)
    # weights: the same customers as unique rows with counts, a numeric covariate included
    # (standardised over the customers, not the rows)
    rfm = rfm.assign(age_band=(rfm["age"] // 10) * 10)
    kwargs = {"purchase_covariates": ["channel", "age_band"], "dropout_covariates": ["channel"]}
    fitted = clvmodels.BetaGeo(**kwargs).fit(rfm)
    keys = ["frequency", "recency", "T", "channel", "age_band"]
    grouped = rfm.groupby(keys, observed=True).size().rename("count").reset_index()
    grouped.attrs.update(rfm.attrs)
    weighted = clvmodels.BetaGeo(**kwargs).fit(grouped, weights=grouped["count"].to_numpy())
    assert weighted.log_likelihood_ == pytest.approx(fitted.log_likelihood_, rel=1e-10)
    np.testing.assert_allclose(weighted.params_, fitted.params_, rtol=1e-6, atol=1e-8)


def test_covariates_far_outside_the_fitted_range_are_refused_not_predicted():
    rfm, _ = simulated(2_000, seed=3)
    model = clvmodels.BetaGeo(purchase_covariates=["age"]).fit(rfm)
    wild = rfm.iloc[:3].copy()
    wild["age"] = [40.0, 1e7, 30.0]  # a unit error: days, not years
    with pytest.raises(DataError, match=r"covariates of 1 customer\(s\) put alpha at 0.0"):
        model.expected_purchases(wild, 10)


def test_customer_ids_read_as_text_match_only_when_written_plainly(tmp_path):
    tx = clvmodels.simulate_transactions(50, seed=1)
    customers = clvmodels.simulate_customers(50, seed=1).reset_index()
    customers["customer_id"] = customers["customer_id"].map(lambda i: f"{i:02d}")  # "07"
    with pytest.raises(DataError, match="has no row for"):
        clvmodels.rfm_summary(tx, observation_end=tx.attrs["observation_end"],
                              customers=customers)


def test_the_sign_convention_is_pinned_by_hand(bg_base, bg_fit):
    """Independent of the simulator (which shares the fitter's convention, so a flipped sign in
    both would pass every recovery test): the fitted model's prediction for a customer of a
    level equals the plain BG/NBD formula at the parameters the documented convention gives,
    alpha_i = alpha_0 exp(-g_alpha), a_i = a_0 exp(g_a), b_i = b_0 exp(g_b) (Fader & Hardie
    2007; docs/covariates.md), and the direction is read off the data themselves: the level
    whose customers buy more often has a purchase-rate multiplier above 1."""
    from clvmodels._math import bgnbd

    rfm, _ = bg_base
    p = bg_fit.params_
    one = rfm.iloc[[0]].copy()
    one["channel"] = pd.Categorical(["search"], categories=rfm["channel"].cat.categories)
    design = bg_fit.spec_.design
    age = design.encodings["age"]
    one["age"] = age.mean  # standardised to 0: only the level moves the parameters
    alpha = p["alpha"] * np.exp(-p["alpha:channel[search]"])
    a = p["a"] * np.exp(p["a:channel[search]"])
    b = p["b"] * np.exp(p["b:channel[search]"])
    by_hand = bgnbd.expected_purchases(p["r"], alpha, a, b, one["frequency"].to_numpy(),
                                       one["recency"].to_numpy(), one["T"].to_numpy(), 10.0)
    np.testing.assert_allclose(bg_fit.expected_purchases(one, 10).to_numpy(), by_hand,
                               rtol=1e-10)
    # the data say who buys more: repeat purchases per week observed, by level
    rate = (rfm["frequency"] / rfm["T"]).groupby(rfm["channel"], observed=True).mean()
    assert rate["search"] > rate["email"] > rate["store"]
    table = bg_fit.coefficients_
    multiplier = table.xs(("purchase", "alpha"), level=("process", "parameter"))["multiplier"]
    assert multiplier["channel[search]"] > 1 > multiplier["channel[store]"]
