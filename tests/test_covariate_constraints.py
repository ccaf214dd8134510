"""Shared coefficients across processes and per-process L2 penalties (CLVTools'
``names.cov.constr`` and ``reg.lambdas``; issue 22, item 4), checked against the optimality
conditions of the unconstrained, unpenalised likelihood computed independently by the model
without them, on data simulated with a known effect."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import clvmodels
from clvmodels.cli import main

AGE = 0.25  # the simulated effect of age on both the purchase and the dropout rate


@pytest.fixture(scope="module")
def base():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        customers = clvmodels.simulate_customers(12_000, seed=5)
        tx = clvmodels.simulate_transactions(
            12_000, seed=6, customers=customers, model="pnbd",
            coefficients={"alpha": {"age": AGE}, "beta": {"age": AGE}})
        rfm = clvmodels.rfm_summary(tx, observation_end=tx.attrs["observation_end"],
                                    time_unit="W", amount="amount", customers=customers)
    return rfm, tx, customers


COVARIATES = dict(purchase_covariates=["age", "channel"], dropout_covariates=["age"])


@pytest.fixture(scope="module")
def free(base):
    return clvmodels.ParetoNBD(**COVARIATES).fit(base[0])


@pytest.fixture(scope="module")
def shared(base):
    return clvmodels.ParetoNBD(**COVARIATES, shared_covariates=["age"]).fit(base[0])


def free_gradient(free_model, rfm, params: pd.Series) -> pd.Series:
    """The gradient of the unconstrained, unpenalised total log-likelihood at ``params`` (named
    as the free model's parameters), computed by the free model's own specification."""
    spec = free_model.spec_
    data = spec.prepare(rfm)
    _, grad = spec.loglik_grad(params[list(spec.param_names)].to_numpy(), data)
    return pd.Series(grad, index=spec.param_names)


def test_a_shared_coefficient_is_the_constrained_maximum(base, free, shared):
    rfm = base[0]
    names = shared.parameter_names_
    assert "shared:age" in names and "alpha:age" not in names and "beta:age" not in names
    assert abs(shared.params_["shared:age"] - AGE) < 2 * shared.standard_errors_["shared:age"]
    # the constraint nests: one parameter fewer, a likelihood no higher
    assert len(free.parameter_names_) == len(names) + 1
    assert shared.log_likelihood_ <= free.log_likelihood_ + 1e-9
    # optimality under alpha:age = beta:age = shared:age (Lagrange): the free gradient's two
    # components sum to zero and every other component vanishes
    expanded = shared.params_.rename({"shared:age": "alpha:age"})
    expanded["beta:age"] = shared.params_["shared:age"]
    grad = free_gradient(free, rfm, expanded)
    scale = free.standard_errors_  # gradients in units of the information
    assert abs(grad["alpha:age"] + grad["beta:age"]) * scale["alpha:age"] < 1e-4
    others = grad.drop(["alpha:age", "beta:age"]) * scale.drop(["alpha:age", "beta:age"])
    assert others.abs().max() < 1e-4
    # the table shows it in both processes, marked shared, with one value
    table = shared.coefficients_
    rows = table.xs("age", level="covariate")
    assert rows["shared"].all() and rows["coefficient"].nunique() == 1
    assert set(rows.index.get_level_values("process")) == {"purchase", "dropout"}


def test_a_shared_coefficient_moves_both_rates_in_predictions(base, shared):
    rfm = base[0]
    older = rfm.head(200).assign(age=rfm["age"].head(200) + 10.0)
    # exp(gamma) on both the purchase rate and the dropout rate: checked through the customer's
    # parameters, alpha and beta both divided by exp(shared:age) per encoded unit of age
    design = shared.spec_.covariate_matrices(rfm.head(200))
    moved = shared.spec_.covariate_matrices(older)
    step = moved["purchase"][:, 0] - design["purchase"][:, 0]  # age's encoded change
    np.testing.assert_allclose(moved["dropout"][:, 0] - design["dropout"][:, 0], step)
    draws = shared.parameter_draws()
    before = shared.spec_.row_parameters(draws, design)
    after = shared.spec_.row_parameters(draws, moved)
    factor = np.exp(shared.params_["shared:age"] * step)[:, None]
    np.testing.assert_allclose(before[1] / after[1], factor, rtol=1e-9)  # alpha
    np.testing.assert_allclose(before[3] / after[3], factor, rtol=1e-9)  # beta
    np.testing.assert_allclose(before[0], after[0], rtol=0)  # r and s untouched
    np.testing.assert_allclose(before[2], after[2], rtol=0)


@pytest.mark.parametrize("lam", [0.05, 2.0])
def test_the_penalty_is_clvtools_objective_at_its_optimum(base, free, lam):
    rfm = base[0]
    model = clvmodels.ParetoNBD(**COVARIATES, covariate_penalty={"purchase": lam}).fit(rfm)
    n = model.n_customers_
    grad = free_gradient(free, rfm, model.params_)  # of the total log-likelihood
    # stationary for  -ll / n + lam * |gamma_purchase|^2 : -grad / n + 2 lam gamma = 0
    purchase = [n_ for n_ in model.parameter_names_ if n_.startswith("alpha:")]
    rest = [n_ for n_ in model.parameter_names_ if n_ not in purchase]
    np.testing.assert_allclose(grad[purchase] / n, 2 * lam * model.params_[purchase],
                               atol=1e-7)
    assert (grad[rest] / n).abs().max() < 1e-7
    # the reported log-likelihood is the likelihood itself, without the penalty
    spec = free.spec_
    ll = spec.loglik_grad(model.params_[list(spec.param_names)].to_numpy(), spec.prepare(rfm))[0]
    assert model.log_likelihood_ == pytest.approx(ll, rel=1e-12)
    # it shrinks the purchase coefficients, not the dropout ones
    assert (model.params_[purchase].abs() < free.params_[purchase].abs() + 1e-9).all()
    if lam > 1:
        assert model.params_[purchase].abs().max() < 0.02


def test_no_penalty_and_no_sharing_are_the_plain_covariate_model(base, free):
    model = clvmodels.ParetoNBD(**COVARIATES, covariate_penalty={"purchase": 0.0,
                                                                 "dropout": 0.0}).fit(base[0])
    np.testing.assert_allclose(model.params_, free.params_, rtol=1e-8)


def test_the_model_file_keeps_them(base, shared, tmp_path):
    rfm = base[0]
    penalised = clvmodels.ParetoNBD(**COVARIATES, shared_covariates=["age"],
                                    covariate_penalty={"purchase": 0.1}).fit(rfm)
    for model in (shared, penalised):
        model.save(tmp_path / "m.json")
        loaded = clvmodels.load(tmp_path / "m.json")
        assert loaded.shared_covariates == ("age",)
        assert loaded.parameter_names_ == model.parameter_names_
        pd.testing.assert_series_equal(loaded.expected_purchases(rfm, 10),
                                       model.expected_purchases(rfm, 10), rtol=1e-12)
    stored = json.loads((tmp_path / "m.json").read_text())
    assert stored["settings"]["covariate_penalty"] == {"purchase": 0.1}


def test_refusals_name_the_argument_and_the_fix(base):
    with pytest.raises(clvmodels.DataError, match="shared_covariates: BetaGeo's processes move"):
        clvmodels.BetaGeo(purchase_covariates=["age"], dropout_covariates=["age"],
                          shared_covariates=["age"])
    with pytest.raises(clvmodels.DataError, match="not among the dropout_covariates"):
        clvmodels.ParetoNBD(purchase_covariates=["age"], shared_covariates=["age"])
    with pytest.raises(clvmodels.DataError, match="names 'spend'"):
        clvmodels.ParetoNBD(purchase_covariates=["age"], covariate_penalty={"spend": 1.0})
    for bad in (-1.0, float("nan"), "1", True):
        with pytest.raises(clvmodels.DataError, match="number >= 0"):
            clvmodels.ParetoNBD(purchase_covariates=["age"], covariate_penalty={"purchase": bad})
    with pytest.raises(clvmodels.DataError, match="for maximum likelihood"):
        clvmodels.ModelPair.fit(base[0], purchases="pnbd", bayesian=True,
                                covariates={"purchase_covariates": ["age"],
                                            "covariate_penalty": {"purchase": 1.0}})


@pytest.mark.slow
def test_the_command_line_fits_them(base, tmp_path, capsys):
    _, tx, customers = base
    tx.to_csv(tmp_path / "log.csv", index=False)
    customers.reset_index().to_csv(tmp_path / "customers.csv", index=False)
    common = ["fit", "--transactions", str(tmp_path / "log.csv"), "--observation-end",
              str(tx.attrs["observation_end"])[:10], "--time-unit", "W", "--model", "pnbd_gg",
              "--customers", str(tmp_path / "customers.csv"), "--purchase-covariates",
              "age,channel", "--dropout-covariates", "age", "--quiet"]
    assert main(common + ["--shared-covariates", "age", "--covariate-penalty", "purchase=0.1",
                          "--out", str(tmp_path / "m.json")]) == 0
    pair = clvmodels.load(tmp_path / "m.json")
    assert "shared:age" in pair.purchases.parameter_names_
    assert pair.purchases.covariate_penalty == {"purchase": 0.1}
    # in the words of the command line
    assert main(common + ["--shared-covariates", "channel", "--out",
                          str(tmp_path / "n.json")]) != 0
    assert "--shared-covariates lists 'channel'" in capsys.readouterr().err
    # scored on Dask with the customer table, as by the local engine
    scored = {}
    for engine in ("local", "dask"):
        out = tmp_path / f"{engine}.parquet"
        assert main(["score", "--model", str(tmp_path / "m.json"), "--transactions",
                     str(tmp_path / "log.csv"), "--customers", str(tmp_path / "customers.csv"),
                     "--engine", engine, "--out", str(out), "--quiet"]) == 0
        scored[engine] = pd.read_parquet(out).set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(scored["dask"], scored["local"], rtol=1e-12)


@pytest.mark.slow
def test_dask_scores_a_model_with_covariates_as_in_memory(base, tmp_path):
    """Covariates everywhere a model goes: the Dask engine joins the customer table to each
    partition (it refused before), with the local engine's checks."""
    import dask
    import dask.dataframe as dd

    from clvmodels import dask_engine

    rfm, tx, customers = base
    pair = clvmodels.ModelPair.fit(rfm, purchases="pnbd", covariates={
        **COVARIATES, "shared_covariates": ["age"]})
    end = tx.attrs["observation_end"]
    with dask.config.set(scheduler="synchronous"):
        frame = dask_engine.rfm_summary(dd.from_pandas(tx, npartitions=4), observation_end=end,
                                        time_unit="W", amount="amount")
        scores = dask_engine.score(pair, frame, customers).compute()
        with pytest.raises(clvmodels.DataError, match="age"):  # the table lacks a covariate
            dask_engine.score(pair, frame, customers.drop(columns="age")).compute()
    scores = scores.set_index("customer_id").sort_index()
    expected = pair.score(rfm).sort_index()
    pd.testing.assert_frame_equal(scores[expected.columns], expected, check_dtype=False,
                                  check_names=False, check_index_type=False, rtol=1e-9)


@pytest.mark.slow
def test_the_backtest_compares_a_model_with_and_without_its_covariates(base):
    """Covariates everywhere a model goes: the backtest fits '<pair>+covariates' on the same
    customers as the pair without them, and the paired comparison says which does better."""
    _, tx, customers = base
    end = pd.Timestamp(tx.attrs["observation_end"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = clvmodels.backtest(  # two origins: the customer table joins each
            tx, calibration_end=[end - pd.Timedelta(weeks=39), end - pd.Timedelta(weeks=26)],
            observation_end=end,
            methods=["pnbd_gg", "pnbd_gg+covariates", "run_rate"], customers=customers,
            covariates={**COVARIATES, "shared_covariates": ["age"]})
    assert not result.failures
    summary = result.summary()
    assert {"pnbd_gg", "pnbd_gg+covariates"} <= set(summary.index)
    # age moves both processes in the simulation: the covariates help on the holdout
    assert summary.loc["pnbd_gg+covariates", "holdout_loglik"] > summary.loc[
        "pnbd_gg", "holdout_loglik"]
    paired = result.difference("purchases_mae", "pnbd_gg+covariates", "pnbd_gg")
    assert {"estimate", "lower", "upper"} <= set(paired)  # paired over the same customers
    assert paired["lower"] <= paired["estimate"] <= paired["upper"]
    with pytest.raises(clvmodels.DataError, match="customer table and the covariates"):
        clvmodels.backtest(tx, calibration_end=end - pd.Timedelta(weeks=26),
                           observation_end=end, methods=["pnbd_gg+covariates"])
    with pytest.raises(clvmodels.DataError, match="unknown method"):
        clvmodels.backtest(tx, calibration_end=end - pd.Timedelta(weeks=26),
                           observation_end=end, methods=["run_rate+covariates"],
                           customers=customers, covariates=COVARIATES)


@pytest.mark.slow
def test_the_backtest_command_takes_the_customer_table(base, tmp_path):
    _, tx, customers = base
    end = pd.Timestamp(tx.attrs["observation_end"])
    tx.to_csv(tmp_path / "log.csv", index=False)
    customers.reset_index().to_csv(tmp_path / "customers.csv", index=False)
    assert main(["backtest", "--transactions", str(tmp_path / "log.csv"), "--calibration-end",
                 f"{end - pd.Timedelta(weeks=26):%Y-%m-%d}", "--observation-end",
                 f"{end:%Y-%m-%d}", "--time-unit", "W", "--methods", "pnbd_gg",
                 "pnbd_gg+covariates", "--customers", str(tmp_path / "customers.csv"),
                 "--purchase-covariates", "age,channel", "--dropout-covariates", "age",
                 "--out", str(tmp_path / "bt")]) == 0
    metrics = pd.read_csv(tmp_path / "bt" / "metrics.csv")
    assert set(metrics["method"]) == {"pnbd_gg", "pnbd_gg+covariates"}
    assert metrics["error"].isna().all()  # no method failed
