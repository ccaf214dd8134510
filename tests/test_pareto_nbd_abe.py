"""The hierarchical Pareto/NBD (Abe 2009): the individual formulas against Pareto/GGG at k = 1,
the conjugate population draw, the customers' sampler without data, BTYDplus's published CDNOW
estimates, recovery of a covariate by simulation, and the predictions' interfaces."""

import numpy as np
import pytest
from scipy import stats

import clvmodels
from clvmodels._math import pggg, pnbd
from clvmodels.models.latent import customer_keys
from clvmodels.models.pareto_nbd_abe import (HierarchicalParetoNBD, draw_regression,
                                             sample_customers, simulate_pareto_nbd_abe)

CASES = [(0.5, 0.05, 3, 10.0, 40.0), (0.2, 0.01, 0, 0.0, 52.0), (2.0, 0.3, 7, 1.0, 5.0),
         (1.1, 0.002, 12, 20.0, 104.0)]


@pytest.mark.parametrize("lam, mu, x, t_x, T", CASES)
def test_individual_formulas_are_pareto_ggg_at_k_1(lam, mu, x, t_x, T):
    """The Pareto/NBD given the rates is Pareto/GGG with k = 1 (its gaps exponential): the
    likelihood, P(alive) and P(any purchase) agree with the independently derived k = 1
    case; expected purchases are the rate times the expected time alive."""
    assert pnbd.individual_loglik(lam, mu, x, t_x, T) == pytest.approx(
        float(pggg.loglik(1.0, lam, mu, x, t_x, T, 0.0)), rel=1e-12)
    alive = pnbd.individual_probability_alive(lam, mu, t_x, T)
    assert alive == pytest.approx(float(pggg.probability_alive(1.0, lam, mu, t_x, T)), rel=1e-10)
    assert pnbd.individual_probability_any_purchase(lam, mu, alive, 13.0) == pytest.approx(
        float(pggg.probability_any_purchase(1.0, lam, mu, t_x, T, 13.0)), rel=1e-9)
    assert pnbd.individual_expected_purchases(lam, mu, alive, 13.0) == pytest.approx(
        alive * lam * (1 - np.exp(-mu * 13.0)) / mu, rel=1e-12)


def test_the_population_draw_is_the_conjugate_posterior():
    """Many draws of (B, Sigma) given fixed log rates: their means are the conjugate
    posterior's (Sigma: the inverse Wishart's scale over df - 3; B: the ridge-like centre)."""
    rng = np.random.default_rng(3)
    n = 3000
    X = np.column_stack([np.ones(n), rng.uniform(-1, 1, n)])
    truth = np.array([[-2.0, -3.0], [0.5, -0.4]])
    Y = X @ truth + rng.multivariate_normal([0, 0], [[1.0, 0.3], [0.3, 2.0]], n)
    B0, A0, nu, V = np.zeros((2, 2)), 0.01 * np.eye(2), 5.0, 5.0 * np.eye(2)
    draws = [draw_regression(Y, X, B0, A0, nu, V, rng) for _ in range(2000)]
    center = np.linalg.solve(X.T @ X + A0, X.T @ Y)
    scatter = (Y - X @ center).T @ (Y - X @ center) + center.T @ A0 @ center
    np.testing.assert_allclose(np.mean([d[0] for d in draws], axis=0), center, atol=0.01)
    np.testing.assert_allclose(np.mean([d[1] for d in draws], axis=0),
                               (V + scatter) / (nu + n - 3), rtol=0.01)


def test_each_customer_draw_follows_its_own_population_row():
    """Histories without information (T = 0) and two population rows far apart: each
    customer's log rates in draw d are draws of row d's normal, the second after only the
    iterations given its row (a wrong conditional normal or proposal fails this)."""
    population = np.array([[-2.0, -3.0, 1.0, 0.4, 2.0], [-1.0, -4.0, 0.5, -0.2, 1.0]])
    n = 4000
    zeros = np.zeros(n)
    lam, mu = sample_customers(population, 1, [1.0, 1.0], zeros, zeros, zeros,
                               np.ones((n, 1)), customer_keys(5, np.arange(n, dtype=float)),
                               30, 2)
    for d in (0, 1):
        for which, values in enumerate((lam, mu)):
            law = stats.norm(population[d, which], np.sqrt(population[d, 2 + 2 * which]))
            assert stats.kstest(np.log(values[:, d]), law.cdf).pvalue > 0.001, (d, which)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Pareto/NBD .Abe.. the sampler may not have converged")
def test_cdnow_reproduces_btydplus_published_estimates(cdnow_calibration):
    """Model M1 of Abe (2009) on CDNOW's 2,357 customers, 39 weeks: BTYDplus's vignette
    (``abe.mcmc.DrawParameters(cdnowCbs, mcmc = 7500, burnin = 2500)``, section "Pareto/NBD
    (Abe)") reports the posterior medians and 95 % intervals below (their 300 kept draws carry
    Monte Carlo error of their own); ours, from two chains of the default 500 + 2,000 (half the
    default four, to keep the suite's time), fall inside each interval, near each median. The
    population mixes slowly on these data (most customers never bought again): effective sample
    sizes of 50 to 100 from these 4,000 draws, so the test allows a quarter of the interval's
    width."""
    cdnow_abe = HierarchicalParetoNBD(chains=2, random_state=1).fit(cdnow_calibration)
    published = {  # 2.5 %, 50 %, 97.5 %
        "log_lambda": (-3.70, -3.54, -3.32),
        "log_mu": (-3.96, -3.59, -3.26),
        "var_log_lambda": (1.10, 1.34, 1.65),
        "cov_log_lambda_log_mu": (-0.20, 0.13, 0.74),
        "var_log_mu": (1.44, 2.62, 5.05),
    }
    assert (cdnow_abe.summary()["r_hat"] < 1.1).all()
    posterior = cdnow_abe.idata_.posterior
    for name, (low, median, high) in published.items():
        ours = float(posterior[name].median())
        assert low < ours < high, (name, ours)
        assert abs(ours - median) < 0.25 * (high - low), (name, ours, median)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Pareto/NBD .Abe.. the sampler may not have converged")
def test_cdnow_with_the_first_purchase_reproduces_btydplus(cdnow, cdnow_calibration):
    """Model M2 of Abe (2009): the first purchase's amount in thousands of dollars as the
    covariate of both rates; BTYDplus's vignette (same call with ``covariates =
    c("first.sales")``) reports the medians and 95 % intervals below. A larger first purchase
    goes with more purchases (the interval of its log lambda coefficient excludes 0), its
    effect on dropout is undetermined."""
    published = {  # 2.5 %, 50 %, 97.5 %
        "log_lambda_intercept": (-4.02, -3.77, -3.19),
        "log_mu_intercept": (-4.37, -3.73, -2.69),
        "log_lambda_first_sales": (0.04, 6.04, 9.39),
        "log_mu_first_sales": (-9.02, 1.73, 7.90),
        "var_log_lambda": (0.01, 1.35, 1.79),
        "cov_log_lambda_log_mu": (-0.35, 0.22, 0.76),
        "var_log_mu": (0.55, 2.59, 4.97),
    }
    first = cdnow.sort_values("date", kind="stable").groupby("customer_id")["amount"].first()
    frame = cdnow_calibration.assign(first_sales=first.reindex(cdnow_calibration.index) / 1000)
    model = HierarchicalParetoNBD(customer_covariates=["first_sales"], chains=2,
                                  random_state=1).fit(frame)  # as above: two chains
    assert (model.summary()["r_hat"] < 1.1).all()
    posterior = model.idata_.posterior
    for name, (low, median, high) in published.items():
        ours = float(posterior[name].median())
        assert low < ours < high, (name, ours)
        assert abs(ours - median) < 0.25 * (high - low), (name, ours, median)
    assert float(posterior["log_lambda_first_sales"].quantile(0.025)) > 0


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Pareto/NBD .Abe.. the sampler may not have converged")
def test_a_covariate_is_recovered_by_simulation():
    """3,000 customers with a covariate on both rates (BTYDplus's test design): the truth is
    within three posterior SDs of every coefficient and covariance."""
    B = np.array([[-2.0, -3.5], [0.8, -0.6]])
    sigma = np.array([[0.6, 0.2], [0.2, 0.8]])
    rfm = simulate_pareto_nbd_abe(3000, B=B, sigma=sigma, T=52, seed=2)
    model = HierarchicalParetoNBD(customer_covariates=["covariate_1"], draws=600, tune=300,
                                  random_state=1).fit(rfm)
    summary = model.summary()
    truth = dict(zip(model.population_names_, [*B.ravel(), sigma[0, 0], sigma[0, 1],
                                               sigma[1, 1]]))
    for name, value in truth.items():
        assert abs(summary.loc[name, "mean"] - value) < 3 * summary.loc[name, "sd"], name


@pytest.fixture(scope="module")
def short_abe():
    rfm = simulate_pareto_nbd_abe(400, B=[[-2.0, -3.5], [0.8, -0.6]],
                                  sigma=[[0.6, 0.2], [0.2, 0.8]], T=52, holdout=26, seed=4)
    with pytest.warns(UserWarning, match="may not have converged"):
        model = HierarchicalParetoNBD(customer_covariates=["covariate_1"], draws=60, tune=30,
                                      chains=2, customer_draws=20, customer_tune=20,
                                      random_state=1).fit(rfm)
    return model, rfm


def test_predictions_are_by_label_and_depend_on_the_customer_alone(short_abe, tmp_path):
    """Any subset in any order gives each customer the same numbers; a new customer with a
    fitted one's history and covariate gets hers; the covariate is read (another value, another
    prediction) and is needed; a model file loads back to the same predictions."""
    model, rfm = short_abe
    whole = model.expected_purchases(rfm, 26)
    part = model.expected_purchases(rfm.iloc[[9, 2, 40]], 26)
    np.testing.assert_array_equal(part.to_numpy(), whole.iloc[[9, 2, 40]].to_numpy())
    alone = [model.expected_purchases(rfm.iloc[[i]], 26).iloc[0] for i in range(100)]
    np.testing.assert_array_equal(alone, whole.iloc[:100].to_numpy())  # to the bit
    twin = rfm.iloc[[2]].rename(index={2: "new"})
    assert model.expected_purchases(twin, 26).iloc[0] == whole.iloc[2]
    moved = twin.assign(covariate_1=twin["covariate_1"] + 1.0)
    assert model.expected_purchases(moved, 26).iloc[0] != whole.iloc[2]
    with pytest.raises(clvmodels.DataError, match="no column 'covariate_1'"):
        model.probability_alive(rfm.drop(columns="covariate_1"))
    some = model.probability_any_purchase(rfm, 26)
    alive = model.probability_alive(rfm)
    assert ((0 <= some) & (some <= alive + 1e-12)).all()
    model.save(tmp_path / "abe.json")
    loaded = clvmodels.load(tmp_path / "abe.json")
    np.testing.assert_array_equal(loaded.expected_purchases(rfm, 26, interval=0.9),
                                  model.expected_purchases(rfm, 26, interval=0.9))
    assert list(loaded.population_names_) == list(model.population_names_)


def test_bad_covariates_are_refused_by_name(short_abe):
    model, rfm = short_abe
    bad = rfm.copy()
    bad["covariate_1"] = bad["covariate_1"].astype(object)
    bad.loc[bad.index[3], "covariate_1"] = "high"
    with pytest.raises(clvmodels.DataError, match="customer 3 has 'high'"):
        model.probability_alive(bad)
    with pytest.raises(clvmodels.DataError, match="distinct column names"):
        HierarchicalParetoNBD(customer_covariates=["a", "a"]).fit(rfm)
    with pytest.raises(clvmodels.DataError, match="weights"):
        HierarchicalParetoNBD().fit(rfm, weights=np.ones(len(rfm)))


def test_the_command_line_pair_exists():
    from clvmodels.models.registry import MODELS, pair_names

    entry = MODELS["pnbd_abe"]
    assert {"bayes", "latent"} <= entry.capabilities and "mle" not in entry.capabilities
    assert "bayes_pnbd_abe_gg" in pair_names()
    assert HierarchicalParetoNBD().covariates == {}
    assert HierarchicalParetoNBD(customer_covariates=["age"]).covariates == {"rates": ("age",)}


def test_scores_keep_customers_with_one_history_apart_by_their_covariate(short_abe):
    """ModelPair.score computes once per distinct customer: two customers with the same
    history but different covariates are two customers (not merged into one score)."""
    model, rfm = short_abe
    frame = rfm.assign(monetary_value=np.where(rfm["frequency"] > 0, 20.0 + rfm.index % 7, 0.0))
    spend = clvmodels.GammaGamma().fit(frame[frame["frequency"] > 0])
    twin = frame.iloc[[5, 5]].copy()
    twin.index = ["a", "b"]
    twin.loc["b", "covariate_1"] += 1.0
    scores = clvmodels.ModelPair(model, spend).score(twin)
    assert scores.loc["a", "expected_purchases"] != scores.loc["b", "expected_purchases"]
    alone = clvmodels.ModelPair(model, spend).score(twin.loc[["b"]])
    assert alone.loc["b", "clv"] == scores.loc["b", "clv"]


@pytest.mark.filterwarnings("ignore:.*may not have converged")
def test_the_command_line_fits_and_scores_it_with_a_customer_table(cdnow, tmp_path, capsys):
    """`clvmodels fit --model bayes_pnbd_abe_gg` with the same column in --purchase-covariates
    and --dropout-covariates regresses both log rates on it (Abe's M2); `score` joins the
    customer table and gives the loaded model's predictions; different columns for the two are
    refused by flag name, before anything is written."""
    import json

    import pandas as pd

    from clvmodels.cli import main

    log = cdnow[cdnow["customer_id"] <= 600]
    log.to_csv(tmp_path / "tx.csv", index=False)
    first = log.sort_values("date", kind="stable").groupby("customer_id")["amount"].first()
    pd.DataFrame({"customer_id": first.index, "first_sales": first.to_numpy() / 1000,
                  "other": 1.0}).to_csv(tmp_path / "customers.csv", index=False)
    common = ["--transactions", str(tmp_path / "tx.csv"), "--observation-end", "1998-06-30",
              "--time-unit", "W", "--customers", str(tmp_path / "customers.csv")]
    code = main(["fit", *common, "--model", "bayes_pnbd_abe_gg", "--purchase-covariates",
                 "first_sales", "--dropout-covariates", "first_sales", "--draws", "40",
                 "--tune", "20", "--chains", "2", "--random-state", "3", "--quiet",
                 "--out", str(tmp_path / "abe.json")])
    assert code == 0
    saved = json.loads((tmp_path / "abe.json").read_text())
    assert saved["purchases"]["settings"]["customer_covariates"] == ["first_sales"]
    model = clvmodels.load(tmp_path / "abe.json")
    assert "log_lambda_first_sales" in model.purchases.population_names_
    code = main(["score", "--model", str(tmp_path / "abe.json"), "--transactions",
                 str(tmp_path / "tx.csv"), "--observation-end", "1998-06-30", "--customers",
                 str(tmp_path / "customers.csv"), "--out", str(tmp_path / "scores.csv")])
    assert code == 0
    scores = pd.read_csv(tmp_path / "scores.csv").set_index("customer_id")
    rfm = clvmodels.rfm_summary(log, observation_end="1998-06-30", amount="amount",
                                time_unit="W")
    rfm = rfm.assign(first_sales=first.reindex(rfm.index) / 1000)
    np.testing.assert_allclose(scores["expected_purchases"].sort_index(),
                               model.purchases.expected_purchases(
                                   rfm, 12 * 365.25 / 12 / 7).sort_index(), rtol=1e-9)
    capsys.readouterr()
    code = main(["fit", *common, "--model", "bayes_pnbd_abe_gg", "--purchase-covariates",
                 "first_sales", "--dropout-covariates", "other", "--draws", "40",
                 "--out", str(tmp_path / "bad.json")])
    err = capsys.readouterr().err
    assert code == 2 and "--purchase-covariates and --dropout-covariates the same" in err
    assert not (tmp_path / "bad.json").exists()


@pytest.mark.filterwarnings("ignore:.*may not have converged")
def test_the_users_priors_move_the_posterior_and_stay_in_the_model_file(tmp_path):
    """A tight prior on the coefficients holds the covariate's at its mean (the default,
    BTYDplus's, lets the data move it to about its true 0.8); a tight inverse Wishart holds
    the covariance at its mean scale / (degrees - 3); a model file keeps the priors; bad ones
    are refused by name."""
    rfm = simulate_pareto_nbd_abe(400, B=[[-2.0, -3.5], [0.8, -0.6]],
                                  sigma=[[0.6, 0.2], [0.2, 0.8]], T=52, seed=4)
    settings = dict(customer_covariates=["covariate_1"], draws=150, tune=100, chains=2,
                    customer_draws=20, customer_tune=20, random_state=1)
    free = HierarchicalParetoNBD(**settings).fit(rfm)
    assert free.params_["log_lambda_covariate_1"] > 0.4
    held = HierarchicalParetoNBD(priors={"coefficients": (0.0, 1e6),
                                         "covariance": (1e5, 0.5 * (1e5 - 3))},
                                 **settings).fit(rfm)
    assert abs(held.params_["log_lambda_covariate_1"]) < 0.01
    assert held.params_["var_log_lambda"] == pytest.approx(0.5, abs=0.02)
    assert held.params_["cov_log_lambda_log_mu"] == pytest.approx(0.0, abs=0.02)
    held.save(tmp_path / "held.json")
    loaded = clvmodels.load(tmp_path / "held.json")
    assert loaded.priors == {"coefficients": [0.0, 1e6], "covariance": [1e5, 0.5 * (1e5 - 3)]}
    np.testing.assert_array_equal(loaded.probability_alive(rfm), held.probability_alive(rfm))
    for bad, message in (({"slope": (0, 1)}, "'slope'"),
                         ({"coefficients": (0.0, -1.0)}, "precision > 0"),
                         ({"covariance": (0.5, 1.0)}, "degrees > 1"),
                         ({"coefficients": "tight"}, "give two numbers"),
                         ({"covariance": "12"}, "give two numbers"),
                         (["coefficients"], "give a dict")):
        with pytest.raises(clvmodels.DataError, match=message):
            HierarchicalParetoNBD(priors=bad, draws=10, tune=0, chains=1).fit(rfm)
