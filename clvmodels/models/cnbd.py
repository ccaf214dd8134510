"""MBG/CNBD-k and BG/CNBD-k (Platzer & Reutterer 2016): the BG/NBD family with Erlang-k
inter-purchase times, for customers who buy with some regularity; :class:`ModifiedBetaGeoCNBD`
and :class:`BetaGeoCNBD` fit them by maximum likelihood, ``k`` chosen by likelihood over 1..12
(or fixed). At ``k = 1`` they are MBG/NBD and BG/NBD.

The fit reads one statistic beyond RFM, ``litt`` (``rfm_summary(..., statistics=["litt"])``);
the predictions read the history (x, t_x, T) alone and are exact (:mod:`clvmodels._math.cnbd`).
Registered as ``mbgcnbd`` and ``bgcnbd``, by maximum likelihood and in PyMC (at a fixed ``k``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._math import cnbd, levels
from ..arguments import check_count
from ..data import RFM_COLUMNS, check_rfm, unique_rows
from ..exceptions import ConvergenceError, DataError
from .base import MaximumLikelihoodModel, check_no_arrays
from .bayesian import BayesianModel
from .purchase import PurchaseModel, rfm_arrays
from .options import FitOptions
from .regression import HESSIAN_REUSE

MAX_K = 12  # the regularity searched when k is not given (BTYDplus: 1..12)


def litt_column(rfm: pd.DataFrame, title: str) -> np.ndarray:
    """The ``litt`` column (sum of the logarithms of the intertransaction times) of a checked
    RFM frame as floats: a DataError, in ``title``'s words, where it is missing, not a finite
    number, or not 0 for a customer without repeat purchases."""
    if "litt" not in rfm.columns:
        raise DataError(f"{title} reads the sum of the logarithms of the inter-purchase "
                        "times, column 'litt', which this frame lacks: build it with "
                        "clvmodels.rfm_summary(..., statistics=['litt'])")
    litt = pd.to_numeric(rfm["litt"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(litt) | ((rfm["frequency"].to_numpy() == 0) & (litt != 0))
    if bad.any():
        raise DataError(f"litt must be a finite number, 0 without repeat purchases; "
                        f"{int(bad.sum())} customer(s) violate this (first: "
                        f"{rfm.index[bad][0]!r})")
    return litt


@dataclass
class RegularHistories:
    """The unique (x, t_x, T, litt) rows with how many customers each stands for, and the
    distinct values of x (the likelihood's special functions of x run once per value)."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    litt: np.ndarray
    weights: np.ndarray
    facts: dict = field(default_factory=dict)
    x_levels: tuple = field(init=False)

    def __post_init__(self):
        self.x_levels = levels(self.x)

    @property
    def n(self) -> float:
        """Customers."""
        return float(self.weights.sum())


class CNBDFormulas:
    """:mod:`clvmodels._math.cnbd` with ``k`` and the variant bound, in the signatures the
    predictions of :class:`~clvmodels.models.purchase.PurchaseModel` call (the four parameters
    first)."""

    def __init__(self, k: int, mbg: bool):
        self.k, self.mbg = int(k), mbg

    def __getattr__(self, name):
        function = getattr(cnbd, name)
        return functools.partial(function, self.k, mbg=self.mbg)

    def probability_of_purchases(self, r, alpha, a, b, n, t):
        """P(X(t) = n) of a new customer for arrays of ``n`` (one whole number at a time)."""
        n, t = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(t, dtype=float))
        out = np.empty(np.broadcast(r, n).shape)
        for value in np.unique(n):
            mask = n == value
            part = cnbd.probability_of_purchases(self.k, r, alpha, a, b, int(value),
                                                 np.where(mask, t, 1.0), mbg=self.mbg)
            out = np.where(np.broadcast_to(mask, out.shape), part, out)
        return out


class RegularityModel(PurchaseModel):
    """(M)BG/CNBD-k: the specification and its predictions (those of the BG/NBD family,
    evaluated by the exact formulas of :mod:`clvmodels._math.cnbd` at the fitted ``k``)."""

    kind = "purchases"
    param_names = ("r", "alpha", "a", "b")
    columns = RFM_COLUMNS  # what the predictions read (and ModelPair.score compresses on)
    statistics = ("litt",)  # what the fit reads beyond them
    covariate_links: dict = {}  # none yet
    numerical_gradient = False
    mbg = True
    facts = ("k",)
    # the Hessian of the first Newton step serves the covariance while the estimate moves less
    # than 1e-3 sqrt(n) standard errors: each is four passes over every customer, and the grid
    # fits up to twelve k
    fit_options = FitOptions(hessian_reuse=HESSIAN_REUSE)
    # the BG/NBD family's shortcut through (x, T) pairs does not hold: the time since the last
    # purchase matters with Erlang-k gaps
    pair_shortcut = False

    k = None  # the regularity given to the constructor (None: chosen by likelihood)

    @property
    def formulas(self):
        return CNBDFormulas(self.fitting_k, self.mbg)

    @property
    def chosen_parameters(self) -> int:
        """1 where ``k`` was chosen by likelihood (it counts in AIC and BIC), 0 where given."""
        return 0 if self.k is not None else 1

    @property
    def fitting_k(self) -> int:
        """The ``k`` in use: the fitted one, or the one being fitted."""
        k = getattr(self, "k_", None)
        if k is None:
            k = self.k
        if k is None:
            raise DataError(f"this {type(self).__name__} has no k yet: fit it, or give k=")
        return int(k)

    # -- specification ---------------------------------------------------------------------
    def prepare(self, rfm: pd.DataFrame, weights=None) -> RegularHistories:
        """The unique (x, t_x, T, litt) rows of ``rfm`` with their counts.

        Parameters
        ----------
        rfm : pandas.DataFrame
            With ``litt`` (``clvmodels.rfm_summary(..., statistics=["litt"])``).
        weights : numpy.ndarray, optional

        Returns
        -------
        RegularHistories
        """
        check_rfm(rfm)
        litt = litt_column(rfm, self.title)
        x, t_x, T = rfm_arrays(rfm)
        if not (x[weights > 0] if weights is not None else x > 0).any():
            raise DataError(f"no customer made a repeat purchase, so {self.title} cannot "
                            "estimate purchase rates; use a longer observation window")
        first, inverse, counts = unique_rows(x, t_x, T, litt)
        if weights is not None:
            counts = np.bincount(inverse, weights=weights, minlength=len(first))
        return RegularHistories(x[first], t_x[first], T[first], litt[first],
                                counts.astype(np.float64))

    def subsample(self, data: RegularHistories, fraction: float, rng) -> RegularHistories:
        """A random share of the customers (binomial thinning of the counts)."""
        kept = rng.binomial(data.weights.astype(np.int64), fraction).astype(np.float64)
        rows = kept > 0
        return RegularHistories(data.x[rows], data.t_x[rows], data.T[rows], data.litt[rows],
                                kept[rows])

    def initial_params(self, data: RegularHistories) -> np.ndarray:
        """r = a = b = 1, alpha = mean T / mean x (k phases: the rate per phase is k times)."""
        mean_x = max(np.average(data.x, weights=data.weights), 0.1)
        return np.array([1.0, max(np.average(data.T, weights=data.weights) / mean_x, 1e-3)
                         / self.fitting_k, 1.0, 1.0])

    def loglik_grad(self, params, data: RegularHistories):
        """Total log-likelihood and its analytic gradient in (r, alpha, a, b)
        (:func:`clvmodels._math.cnbd.total_loglik_grad`) at the ``k`` in use."""
        return cnbd.total_loglik_grad(self.fitting_k, *params, data.x, data.t_x, data.T,
                                      data.litt, data.weights, mbg=self.mbg,
                                      x_levels=data.x_levels)

    def loglik_tensor(self, params: dict, data: RegularHistories, xp):
        """The same total as a PyTensor expression at the ``k`` in use
        (:func:`clvmodels._math.cnbd.loglik` with ``xp``).

        Parameters
        ----------
        params : dict
            PyTensor scalars by name.
        data : RegularHistories
        xp : namespace

        Returns
        -------
        pytensor.tensor.TensorVariable
        """
        import pytensor.tensor as pt

        ll = cnbd.loglik(self.fitting_k, *(params[name] for name in type(self).param_names),
                         data.x, data.t_x, data.T, data.litt, mbg=self.mbg, xp=xp)
        return pt.dot(data.weights, ll)

    def default_priors(self, data: RegularHistories) -> dict:
        """Those of the BG/NBD family, ``alpha`` centred on the log of the mean T over ``k``
        (the rate is per Erlang phase).

        Parameters
        ----------
        data : RegularHistories

        Returns
        -------
        dict
        """
        mean_T = float(np.average(data.T, weights=data.weights))
        return {"r": (0.0, 2.0), "alpha": (float(np.log(mean_T / self.fitting_k + 1e-9)), 3.0),
                "a": (0.0, 2.0), "b": (0.0, 2.0)}

    # -- the purchase-model protocol where the BG/NBD's shortcut does not hold -------------


def checked_k(k):
    """``k`` as given (None: chosen by likelihood), refused unless a whole number 1..12."""
    if k is not None:
        check_count(k, "k", low=1, high=MAX_K)
    return k


def fit_k_grid(mle: type, rfm: pd.DataFrame, weights=None, *, penalizer: float = 0.0,
               time_unit: str | None = None) -> dict:
    """Maximum-likelihood fits of ``mle`` (a regularity model's class) at each k from 1 up (to
    12, or until the log-likelihood falls twice in a row, as BTYDplus): ``{k: fitted model}``."""
    fits, history = {}, []
    for k in range(1, MAX_K + 1):
        try:
            fits[k] = mle(penalizer=penalizer, k=k).fit(rfm, weights, time_unit=time_unit)
        except ConvergenceError:
            if not fits:
                raise
            break
        history.append(fits[k].log_likelihood_)
        if len(history) >= 3 and history[-1] < history[-2] < history[-3]:
            break
    return fits


def k_log_likelihoods(fits: dict) -> pd.Series:
    """Each k's maximised log-likelihood, by k."""
    return pd.Series({k: f.log_likelihood_ for k, f in fits.items()},
                     name="log_likelihood").rename_axis("k")


class KByLikelihood(MaximumLikelihoodModel):
    """The maximum-likelihood engine of a regularity model: at the given ``k``, or with ``k``
    chosen by likelihood over 1..12.

    Parameters
    ----------
    penalizer : float, default 0
    k : int, optional
        The regularity, 1..12; chosen by likelihood when not given (``k_``, with every
        ``k``'s log-likelihood in ``k_log_likelihoods_``).
    """

    def __init__(self, penalizer: float = 0.0, k=None):
        super().__init__(penalizer)
        self.k = checked_k(k)

    def fit(self, rfm: pd.DataFrame, weights=None, *arrays, time_unit: str | None = None):
        """Fit by maximum likelihood at the given ``k``, or at each k keeping the best.

        Parameters
        ----------
        rfm : pandas.DataFrame
            With ``litt`` (``rfm_summary(..., statistics=["litt"])``).
        weights : pandas.Series or array-like, optional
        time_unit : str, optional

        Returns
        -------
        self
        """
        check_no_arrays(self, arrays)
        if self.k is not None:
            self.k_ = int(self.k)
            return super().fit(rfm, weights, time_unit=time_unit)
        fits = fit_k_grid(type(self), rfm, weights, penalizer=self.penalizer,
                          time_unit=time_unit)
        best = max(fits, key=lambda k: fits[k].log_likelihood_)
        self.__dict__.update({key: value for key, value in fits[best].__dict__.items()
                              if key != "k"})
        self.k_log_likelihoods_ = k_log_likelihoods(fits)
        return self


class KFixedBayesian(BayesianModel):
    """The Bayesian engine of a regularity model: the posterior of (r, alpha, a, b) at a fixed
    ``k``, the given one or, when none is given, the one maximum likelihood chooses (fitted
    first, over 1..12: ``k_log_likelihoods_``). The other settings are
    :class:`~clvmodels.models.bayesian.BayesianModel`'s.

    Parameters
    ----------
    k : int, optional
        The regularity, 1..12.
    **settings
        ``priors``, ``draws``, ``tune``, ``chains``, ``method``, ``sampler``, ... as for every
        Bayesian model.
    """

    _maximum_likelihood_class: type  # the variant's maximum-likelihood class, to choose k

    def __init__(self, k=None, **settings):
        super().__init__(**settings)
        self.k = checked_k(k)

    def fit(self, rfm: pd.DataFrame, weights=None, *arrays, time_unit: str | None = None):
        """Sample the posterior at ``k`` (chosen by likelihood first, when not given).

        Parameters
        ----------
        rfm : pandas.DataFrame
            With ``litt`` (``rfm_summary(..., statistics=["litt"])``).
        weights : pandas.Series or array-like, optional
        time_unit : str, optional

        Returns
        -------
        self
        """
        check_no_arrays(self, arrays)
        self._check_settings()
        if self.k is None:
            fits = fit_k_grid(self._maximum_likelihood_class, rfm, weights, time_unit=time_unit)
            self.k_ = max(fits, key=lambda k: fits[k].log_likelihood_)
            self.k_log_likelihoods_ = k_log_likelihoods(fits)
        else:
            self.k_ = int(self.k)
        return super().fit(rfm, weights, time_unit=time_unit)


def simulate_regular(n_customers: int, *, k: int, r: float, alpha: float, a: float, b: float,
                     T: float, holdout: float = 0.0, mbg: bool = True, seed=None,
                     time_unit: str = "W") -> pd.DataFrame:
    """Customers drawn from the (M)BG/CNBD-k, all acquired at time 0 and observed for ``T``
    (then for ``holdout`` more): ``lambda ~ Gamma(r, alpha)``, Erlang-k gaps at rate
    ``lambda``, dropout with probability ``p ~ Beta(a, b)`` after each repeat purchase (and at
    time 0 for the MBG).

    Parameters
    ----------
    n_customers : int
    k : int
        The regularity, >= 1.
    r, alpha, a, b : float
        The parameters, > 0.
    T : float
        The observation, in ``time_unit``.
    holdout : float
        A further window whose purchases go to ``frequency_holdout`` (with
        ``duration_holdout``), for backtests.
    mbg : bool
    seed : int, optional
    time_unit : str

    Returns
    -------
    pandas.DataFrame
        ``frequency``, ``recency``, ``T``, ``litt`` (and the holdout columns), one row per
        customer; ``attrs`` record the unit and the truth.
    """
    n = check_count(n_customers, "n_customers", low=1)
    k = check_count(k, "k", low=1)
    if not all(np.isfinite(v) and v > 0 for v in (r, alpha, a, b, T)) or holdout < 0:
        raise DataError("r, alpha, a, b and T must be numbers > 0 (holdout >= 0)")
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    x, t_x, litt, future, now = (np.zeros(n) for _ in range(5))
    alive = rng.random(n) >= p if mbg else np.ones(n, dtype=bool)
    while alive.any():
        rows = np.flatnonzero(alive)
        gap = rng.gamma(k, 1.0 / lam[rows])
        now[rows] += gap
        inside = now[rows] <= T
        before, after = rows[inside], rows[~inside & (now[rows] <= T + holdout)]
        x[before] += 1
        t_x[before] = now[before]
        litt[before] += np.log(gap[inside])
        future[after] += 1
        ended = (now[rows] > T + holdout) | (rng.random(len(rows)) < p[rows])
        alive[rows[ended]] = False
    return simulated_frame(x, t_x, T, litt, future, holdout, time_unit,
                           dict(k=k, r=r, alpha=alpha, a=a, b=b))


def simulated_frame(x, t_x, T, litt, future, holdout, time_unit, truth) -> pd.DataFrame:
    """The RFM frame (with ``litt``) of simulated customers all acquired at time 0 and observed
    for ``T``, with the holdout's purchases where ``holdout > 0``; ``attrs`` record the unit and
    the ``truth``."""
    frame = pd.DataFrame({"frequency": x.astype(np.int64), "recency": t_x,
                          "T": np.full(len(x), float(T)), "litt": litt},
                         index=pd.RangeIndex(len(x), name="customer_id"))
    if holdout > 0:
        frame["frequency_holdout"] = future.astype(np.int64)
        frame["duration_holdout"] = float(holdout)
    frame.attrs.update(time_unit=time_unit, truth=truth)
    return frame


class ModifiedBetaGeoCNBD(RegularityModel, KByLikelihood):
    """MBG/CNBD-k by maximum likelihood: Erlang-k inter-purchase times, dropout possible after
    every purchase including the first (Platzer & Reutterer 2016; BTYDplus ``mbgcnbd``).

    Parameters
    ----------
    penalizer : float, default 0
    k : int, optional
        The regularity, 1..12; chosen by likelihood when not given (``k_``, with every
        ``k``'s log-likelihood in ``k_log_likelihoods_``).
    """

    name = "mbgcnbd"
    title = "MBG/CNBD-k"
    mbg = True


class BetaGeoCNBD(RegularityModel, KByLikelihood):
    """BG/CNBD-k by maximum likelihood: Erlang-k inter-purchase times, dropout after each repeat
    purchase (Platzer & Reutterer 2016; BTYDplus ``bgcnbd``).

    Parameters
    ----------
    penalizer : float, default 0
    k : int, optional
        The regularity, 1..12; chosen by likelihood when not given.
    """

    name = "bgcnbd"
    title = "BG/CNBD-k"
    mbg = False


class BayesianModifiedBetaGeoCNBD(RegularityModel, KFixedBayesian):
    """MBG/CNBD-k in PyMC: the posterior of (r, alpha, a, b) at a fixed ``k`` (given, or chosen
    by likelihood first).

    Parameters
    ----------
    k : int, optional
        The regularity, 1..12.
    **settings
        As :class:`~clvmodels.models.bayesian.BayesianModel`.
    """

    name = "mbgcnbd"
    title = "MBG/CNBD-k"
    mbg = True
    _maximum_likelihood_class = ModifiedBetaGeoCNBD


class BayesianBetaGeoCNBD(RegularityModel, KFixedBayesian):
    """BG/CNBD-k in PyMC: the posterior of (r, alpha, a, b) at a fixed ``k`` (given, or chosen
    by likelihood first).

    Parameters
    ----------
    k : int, optional
        The regularity, 1..12.
    **settings
        As :class:`~clvmodels.models.bayesian.BayesianModel`.
    """

    name = "bgcnbd"
    title = "BG/CNBD-k"
    mbg = False
    _maximum_likelihood_class = BetaGeoCNBD
