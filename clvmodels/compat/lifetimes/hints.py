"""Each call of the compatibility layer can name its native equivalent: after
``show_native_equivalents()``, every call warns once (a :class:`NativeEquivalent`, a
``UserWarning``) with the clvmodels call that does the same, so a script can be moved over one
line at a time."""

from __future__ import annotations

import functools
import warnings

from ...migration import METHODS

__all__ = ["NativeEquivalent", "native_equivalent", "show_native_equivalents"]

NATIVE = {
    **METHODS,
    "fit": "Model(penalizer=...).fit(rfm) with an RFM frame (clvmodels.rfm_summary)",
    "summary": ".summary()",
    "summary_data_from_transaction_data":
        "clvmodels.rfm_summary(tx, customer=, date=, amount=, observation_end=, freq=, time_unit=)",
    "calibration_and_holdout_data":
        "clvmodels.calibration_holdout(tx, calibration_end=, observation_end=, ...)",
    "calculate_alive_path": "clvmodels.plotting.alive_path(model, tx, customer_id)",
    "expected_cumulative_transactions": "clvmodels.plotting.tracking_table(model, tx, "
                                        "calibration_end=)",
    "expected_number_of_transactions_in_first_n_periods":
        "probability_of_purchases(x, n) times the customers",
    "plot_period_transactions": "clvmodels.plotting.plot_period_transactions(model, rfm)",
    "plot_calibration_purchases_vs_holdout_purchases":
        "clvmodels.plotting.plot_calibration_purchases(model, split)",
    "plot_frequency_recency_matrix": "clvmodels.plotting.plot_frequency_recency_matrix(model, t)",
    "plot_probability_alive_matrix": "clvmodels.plotting.plot_probability_alive_matrix(model)",
    "plot_expected_repeat_purchases": "model.expected_purchases_new_customer(t)",
    "plot_history_alive": "clvmodels.plotting.plot_alive_path(model, tx, customer_id)",
    "plot_cumulative_transactions": "clvmodels.plotting.plot_cumulative_transactions(model, tx, "
                                    "calibration_end=)",
    "plot_incremental_transactions": "clvmodels.plotting.plot_incremental_transactions(model, "
                                     "tx, calibration_end=)",
    "plot_transaction_rate_heterogeneity": "scipy.stats.gamma(r, scale=1 / alpha) of "
                                           "model.params_",
    "plot_dropout_rate_heterogeneity": "scipy.stats.beta(a, b) of model.params_",
    "load_cdnow_summary": "clvmodels.rfm_summary(clvmodels.load_cdnow(), time_unit='W')",
    "load_cdnow_summary_data_with_monetary_value":
        "clvmodels.rfm_summary(clvmodels.load_cdnow(), amount='amount', time_unit='W')",
    "load_transaction_data": "clvmodels.simulate_transactions",
    "load_donations": "clvmodels.opportunity_summary of a log of yearly donations",
    "load_dataset": "pandas.read_csv",
}


class NativeEquivalent(UserWarning):
    """What a compatibility call does, in the native API."""


state = {"on": False, "shown": set()}


def show_native_equivalents(on: bool = True) -> None:
    """Name the native equivalent of each compatibility call (once per name) as a
    :class:`NativeEquivalent` warning, or stop (``on=False``)."""
    state["on"] = bool(on)
    state["shown"].clear()


def native_equivalent(name: str) -> str | None:
    """The native call that does what lifetimes' ``name`` does, or None."""
    return NATIVE.get(name)


def pointing(function, name: str | None = None):
    """``function`` that, with hints on, first names its native equivalent."""
    name = name or function.__name__

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if state["on"] and name not in state["shown"] and name in NATIVE:
            state["shown"].add(name)
            warnings.warn(f"lifetimes' {name}: natively, {NATIVE[name]}", NativeEquivalent,
                          stacklevel=2)
        return function(*args, **kwargs)

    return wrapper


def pointing_class(cls):
    """Every public method of ``cls`` (and of its bases in this layer) through
    :func:`pointing`."""
    for klass in cls.__mro__:
        if not klass.__module__.startswith(__name__.rsplit(".", 1)[0]):
            continue
        for attribute, value in vars(klass).items():
            if (not attribute.startswith("_") and callable(value) and attribute in NATIVE
                    and not getattr(getattr(cls, attribute), "__wrapped__", None)):
                setattr(cls, attribute, pointing(value, attribute))
    return cls
