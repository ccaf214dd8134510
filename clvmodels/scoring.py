"""A purchase model and a spend model as one scorer: the table a CRM reads, one row per customer.

The two protocols :func:`clvmodels.customer_value`, :class:`ModelPair`, the command line, the
backtest and the Dask engine rely on (the registered models and the baselines follow them):

purchase model
    ``expected_purchases(rfm, t)``, ``probability_alive(rfm)`` and ``discounted_purchases(rfm,
    times, coefficients, max_draws)`` returning ``(compute, n_histories, inverse)``, where
    ``compute(rows)`` is an ``(len(rows), D)`` array over ``D`` parameter draws for rows of
    unique histories and ``inverse`` maps each customer to its row.
spend model
    ``expected_spend(rfm)`` and ``spend_draws(rfm, max_draws)`` returning ``compute(rows)``, an
    ``(len(rows), D)`` array for rows of customers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from .arguments import align, check_mass
from .data import RFM_COLUMNS, check_rfm, rfm_time_unit
from .exceptions import DataError
from .interface import arg
from .files import check_output_path, require_columns, write_json_atomic
from .models.base import FORMAT, FORMAT_VERSION
from .models.registry import MODELS, entry_of
from .units import check_unit, days_per_unit
from .value import check_value_settings, customer_value, distinct_customers

PAIR = "ModelPair"  # a purchase model and a spend model in one file
PROTOCOLS = {"purchases": ("expected_purchases", "probability_alive", "discounted_purchases"),
             "spend": ("expected_spend", "spend_draws")}


def spend_fit_rows(rfm: pd.DataFrame) -> pd.DataFrame:
    """Gamma-Gamma needs a positive mean value per repeat purchase: customers whose repeat
    purchases are all worth 0 are left out of the spend fit (they are still scored)."""
    return rfm[(rfm["frequency"] == 0) | (rfm["monetary_value"] > 0)]


@dataclass
class ModelPair:
    """A purchase model (``purchases``) and a spend model (``spend``), maximum-likelihood or
    Bayesian: what scoring, the command line and the backtest use.

    Parameters
    ----------
    purchases : purchase model
        Fitted; follows the purchase-model protocol (module docstring).
    spend : spend model
        Fitted; follows the spend-model protocol.
    """

    purchases: object
    spend: object

    def __post_init__(self):
        for role, needs in PROTOCOLS.items():
            model = getattr(self, role)
            if not all(callable(getattr(model, name, None)) for name in needs):
                raise DataError(f"ModelPair({role}=...) needs a {role} model (with "
                                f"{', '.join(needs)}), not a {type(model).__name__}: pass the "
                                "purchase model first and the spend model second")

    @classmethod
    def fit(cls, rfm: pd.DataFrame, *, purchases: str = "bgnbd", spend: str = "gg",
            bayesian: bool = False, penalizer: float = 0.0, options: dict | None = None,
            weights=None, spend_rfm: pd.DataFrame | None = None,
            covariates: dict | None = None) -> ModelPair:
        """Fit a registered purchase model and spend model on one RFM frame.

        Parameters
        ----------
        rfm : pandas.DataFrame
            The RFM frame (with ``monetary_value``).
        purchases, spend : str
            Registry names (``clvmodels.models.MODELS``), default BG/NBD and Gamma-Gamma.
        bayesian : bool
            The Bayesian twins instead of maximum likelihood; ``options`` go to them.
        penalizer : float
            For the maximum-likelihood models.
        weights : pandas.Series or array-like, optional
            Customers per row of ``rfm`` (a Series matched by its index), for both models
            (the spend model's rows are those of ``rfm`` it fits on); not applied to
            ``spend_rfm``.
        spend_rfm : pandas.DataFrame, optional
            The rows the spend model fits on; default :func:`spend_fit_rows` of ``rfm``.
        covariates : dict, optional
            ``{"purchase_covariates": [...], "dropout_covariates": [...],
            "spend_covariates": [...]}``: columns of ``rfm``; each model takes its own. The
            purchase model's ``shared_covariates`` and ``covariate_penalty`` (maximum
            likelihood) may be given here too. A model that regresses both log rates on one
            set of columns (the hierarchical Pareto/NBD's ``customer_covariates``) takes the
            purchase and dropout covariates, which must then name the same columns.

        Returns
        -------
        ModelPair
        """
        entries = []
        engine = "bayes" if bayesian else "mle"
        for role, name in (("purchases", purchases), ("spend", spend)):
            entry = MODELS.get(name)
            if entry is None or entry.kind != role:
                known = [e.name for e in MODELS.values() if e.kind == role]
                raise DataError(f"unknown {role} model {name!r}: choose from {known}")
            if engine not in entry.capabilities:
                which = "Bayesian" if bayesian else "maximum-likelihood"
                raise DataError(f"{entry.title} has no {which} engine: use "
                                f"bayesian={not bayesian}")
            entries.append(entry)
        given = {k: v for k, v in (covariates or {}).items() if v}
        purchase_options = {k: given.pop(k) for k in ("shared_covariates", "covariate_penalty")
                            if k in given}
        if bayesian and "covariate_penalty" in purchase_options:
            raise DataError(f"{arg('covariate_penalty')} is for maximum likelihood: a Bayesian "
                            "model's coefficients are held in by their priors (Normal(0, 1) per "
                            f"standard deviation; {arg('priors')} to change them)")
        per_model = []
        for entry in entries:
            takes = {f"{p}_covariates" for p in entry.spec.covariate_links}
            per_model.append({k: v for k, v in given.items() if k in takes})
        per_model[0].update(purchase_options)
        taken = {k for chosen in per_model for k in chosen}
        for entry, chosen in zip(entries, per_model):
            # a regression of both log rates on one set of columns (Abe 2009): the purchase
            # and dropout covariates, which must then name the same columns
            if not bayesian or "customer_covariates" not in (
                    entry.bayesian.constructor_setting_names()):
                continue
            moved = [tuple(given.get(f"{p}_covariates") or ()) for p in ("purchase", "dropout")]
            if not any(moved):
                continue
            if sorted(moved[0]) != sorted(moved[1]):
                raise DataError(
                    f"{entry.title} moves both rates with the same covariates (a regression of "
                    f"the log purchase and dropout rates on them): give "
                    f"{arg('purchase_covariates')} and {arg('dropout_covariates')} the same "
                    f"columns (given {list(moved[0])} and {list(moved[1])})")
            chosen["customer_covariates"] = list(moved[0])
            taken |= {"purchase_covariates", "dropout_covariates"}
        unused = set(given) - taken
        if unused:
            raise DataError(f"{sorted(unused)[0]}: neither {purchases} nor {spend} takes "
                            "these covariates")
        if bayesian:  # each model its own settings (Pareto/GGG's customer_draws, ...)
            options = dict(options or {})
            takes = [set(entry.bayesian.constructor_setting_names()) for entry in entries]
            unknown = sorted(set(options) - set.union(*takes))
            if unknown:
                raise DataError(f"{arg('options')}: neither {purchases} nor {spend} takes "
                                f"{unknown}; they take {sorted(set.union(*takes))}")
            made = [entry.bayesian(**{k: v for k, v in options.items() if k in own}, **chosen)
                    for entry, chosen, own in zip(entries, per_model, takes)]
        else:
            made = [entry.mle(penalizer, **chosen) for entry, chosen in zip(entries, per_model)]
        if weights is not None:  # one weight per customer of rfm, by label
            check_rfm(rfm, ())
            weights = pd.Series(align(weights, rfm.index, "weights", what="weight"),
                                index=rfm.index)
        made[0].fit(rfm, weights=weights)
        if spend_rfm is None:
            rows = spend_fit_rows(rfm)
            made[1].fit(rows, weights=None if weights is None else weights.reindex(rows.index))
        else:
            made[1].fit(spend_rfm)
        return cls(*made)

    @property
    def bayesian(self) -> bool:
        """Whether the purchase model has a posterior (then CLV gets an interval)."""
        return getattr(self.purchases, "engine", None) == "bayes"

    def expected_purchases(self, rfm, t, **options):
        """The purchase model's expected purchases in the next ``t``.

        Parameters
        ----------
        rfm : pandas.DataFrame
        t : float, pandas.Series or pandas.Timedelta
        **options
            Passed on (``interval``, ``max_draws``, ``time_unit``...).

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        return self.purchases.expected_purchases(rfm, t, **options)

    def expected_spend(self, rfm, **options):
        """The spend model's expected spend per purchase.

        Parameters
        ----------
        rfm : pandas.DataFrame
        **options
            Passed on.

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        return self.spend.expected_spend(rfm, **options)

    def probability_alive(self, rfm, **options):
        """The purchase model's probability of being alive.

        Parameters
        ----------
        rfm : pandas.DataFrame
        **options
            Passed on.

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        return self.purchases.probability_alive(rfm, **options)

    def probability_any_purchase(self, rfm, t, **options):
        """The purchase model's probability of a purchase in the next ``t``.

        Parameters
        ----------
        rfm : pandas.DataFrame
        t : float, pandas.Series or pandas.Timedelta
        **options
            Passed on.

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        return self.purchases.probability_any_purchase(rfm, t, **options)

    def score(self, rfm: pd.DataFrame, *, horizon: float = 12, discount_rate: float = 0.01,
              period: str = "M", interval: float = 0.94, max_draws: int | None = 500,
              time_unit: str | None = None) -> pd.DataFrame:
        """One row per customer: the RFM columns, ``expected_purchases`` over ``horizon``
        periods, ``probability_alive``, ``expected_spend`` and discounted ``clv``
        (:func:`clvmodels.customer_value`); a Bayesian pair adds ``clv_lower`` and
        ``clv_upper`` (equal-tailed ``interval``) and gives posterior means, over at most
        ``max_draws`` draws. ``time_unit`` for a frame that records none.

        Parameters
        ----------
        rfm : pandas.DataFrame
            With ``monetary_value``.
        horizon : float
            Periods of ``period``.
        discount_rate : float
        period : str
        interval : float
        max_draws : int, optional
        time_unit : str, optional

        Returns
        -------
        pandas.DataFrame
        """
        check_rfm(rfm, [*RFM_COLUMNS, "monetary_value"])
        check_value_settings(horizon, discount_rate)
        check_mass(interval, "interval")
        check_unit(period, "period")
        if time_unit is not None and rfm_time_unit(rfm) is None:
            rfm = rfm.copy()
            rfm.attrs["time_unit"] = time_unit
        unit = self.purchases.time_unit_
        t = horizon * days_per_unit(period) / days_per_unit(unit)
        out = rfm.loc[:, [*RFM_COLUMNS, "monetary_value"]].copy()
        options = dict(max_draws=max_draws) if self.bayesian else {}
        # the purchase model's answers depend on the statistics it declares (and its
        # covariates) only: compute them once per unique row of those and spread them back
        require_columns(rfm.columns, tuple(getattr(self.purchases, "columns", RFM_COLUMNS)),
                        "the RFM frame")
        first, inverse = distinct_customers(rfm, [self.purchases])
        histories = rfm.iloc[first]
        out["expected_purchases"] = self.purchases.expected_purchases(
            histories, t, **options).to_numpy()[inverse]
        out["probability_alive"] = self.purchases.probability_alive(
            histories, **options).to_numpy()[inverse]
        out["expected_spend"] = self.spend.expected_spend(rfm, **options)
        value = customer_value(self.purchases, self.spend, rfm, horizon=horizon,
                               discount_rate=discount_rate, period=period,
                               interval=interval if self.bayesian else None, **options)
        if self.bayesian:
            out["clv"], out["clv_lower"], out["clv_upper"] = (value[c] for c in
                                                               ("mean", "lower", "upper"))
        else:
            out["clv"] = value
        return out

    def save(self, path) -> None:
        """Both models in one JSON file (format version 1); Bayesian posteriors go to
        ``<name>.purchases.nc`` and ``<name>.spend.nc`` beside it.

        Parameters
        ----------
        path : str or path-like
        """
        check_output_path(path, "path")
        stem = os.path.splitext(os.fspath(path))[0]
        parts = {}
        for role in ("purchases", "spend"):
            model = getattr(self, role)
            if entry_of(model) is None:
                raise DataError(f"only registered models can be saved, not a "
                                f"{type(model).__name__}")
            if getattr(model, "engine", None) == "bayes":
                posterior = f"{stem}.{role}.nc"
                model.write_posterior(posterior)
                parts[role] = model.to_dict(os.path.basename(posterior))
            else:
                parts[role] = model.to_dict()
        write_json_atomic({"format": FORMAT, "format_version": FORMAT_VERSION, "model": PAIR,
                           **parts}, path, "path")
