"""The names a lifetimes or PyMC-Marketing habit brings, and the native equivalent of each: the
errors those habits meet in the native API name the way here (and the compatibility layer,
:mod:`clvmodels.compat.lifetimes`, which runs lifetimes code unchanged). Imports nothing of the
package."""

from __future__ import annotations

COMPAT = "clvmodels.compat.lifetimes (lifetimes' API on clvmodels)"

# constructor and function arguments
ARGUMENTS = {
    "penalizer_coef": "penalizer= (the same L2 penalty)",
    "time": "horizon= (periods ahead; period='M' months of 30.4375 days, or a number of the "
            "model's time units: lifetimes' month at freq='D' is period=30)",
    "freq": "period= (the length of a period: 'D', 'W', 'M', ... or a number of the model's "
            "time units)",
    "transaction_prediction_model": "the purchase model as the first argument of "
                                    "clvmodels.customer_value(purchases, spend, rfm)",
    "frequency": "one RFM frame (clvmodels.rfm_summary) instead of separate arrays",
    "monetary_value": "one RFM frame with a monetary_value column",
    "future_t": "t= (PyMC-Marketing's future_t)",
    "data": "an RFM frame as the first argument of fit (PyMC-Marketing passes it to the "
            "constructor)",
    "model_config": "priors={name: (mu, sigma)} of the Bayesian models",
}

# methods
METHODS = {
    "conditional_expected_number_of_purchases_up_to_time": "expected_purchases(rfm, t)",
    "predict": "expected_purchases(rfm, t)",
    "conditional_probability_alive": "probability_alive(rfm)",
    "conditional_probability_alive_matrix": "clvmodels.plotting.plot_probability_alive_matrix",
    "expected_number_of_purchases_up_to_time": "expected_purchases_new_customer(t)",
    "probability_of_n_purchases_up_to_time": "probability_of_purchases(n, t)",
    "conditional_probability_of_n_purchases_up_to_time":
        "conditional_probability_of_purchases(rfm, n, t)",
    "conditional_expected_average_profit": "expected_spend(rfm)",
    "customer_lifetime_value": "clvmodels.customer_value(purchases, spend, rfm, horizon=12)",
    "save_model": "save(path) (a JSON model file; clvmodels.load reads it)",
    "load_model": "clvmodels.load(path)",
    "expected_num_purchases": "expected_purchases(rfm, t) (PyMC-Marketing)",
    "expected_probability_alive": "probability_alive(rfm) (PyMC-Marketing)",
    "expected_customer_spend": "expected_spend(rfm) (PyMC-Marketing)",
    "expected_purchases_new_customer_": "expected_purchases_new_customer(t)",
}


def argument_hint(name: str) -> str:
    """`` (lifetimes' name ...: use ...)`` for an argument a peer's habit brings, else ''."""
    hint = ARGUMENTS.get(name)
    return f" ({name!r} is a peer's name: use {hint}; or run lifetimes code on {COMPAT})" \
        if hint else ""


def method_hint(name: str) -> str | None:
    """What to call instead of a peer's method ``name``, or None."""
    hint = METHODS.get(name)
    return None if hint is None else (f"{name!r} is a peer's name (lifetimes, PyMC-Marketing): "
                                      f"use {hint}; or run lifetimes code on {COMPAT}")
