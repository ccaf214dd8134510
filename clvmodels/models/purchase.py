"""The neutral base of the purchase models over (x, t_x, T): :class:`PurchaseModel` holds
the data preparation, the likelihood through a ``formulas`` module and every prediction, written
once as functions of parameter draws. A model is a subclass that declares its parameters, its
``formulas`` (a module of :mod:`clvmodels._math` whose functions take the parameters
positionally, then the history), its starting values and priors: BG/NBD and MBG/NBD
(:mod:`.beta_geo`, :mod:`.modified_beta_geo`), Pareto/NBD, BG/BB and the regularity models."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._math import levels
from ..arguments import check_count, check_mass, check_numbers
from ..data import RFM_COLUMNS, check_rfm, unique_rows
from ..draws import CHUNK_ELEMENTS, fill_doc, for_each_chunk, row_means, take_rows
from ..exceptions import DataError
from ..priors import prior_draws
from .regression import unique_with_covariates


def rfm_arrays(rfm: pd.DataFrame, columns=RFM_COLUMNS) -> list[np.ndarray]:
    """The named columns of a frame as float64 arrays."""
    return [rfm[c].to_numpy(dtype=np.float64) for c in columns]


@dataclass
class Histories:
    """BG/NBD's prepared data: the unique (x, t_x, T) histories with how many customers each
    stands for, and the distinct values of x and of the times (the likelihood evaluates its
    special functions once per distinct value)."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    weights: np.ndarray
    x_levels: tuple = field(init=False)
    time_levels: tuple = field(init=False)

    def __post_init__(self):
        self.x_levels = levels(self.x)
        self.time_levels = levels(np.stack([self.t_x, self.T]))

    @property
    def n(self) -> float:
        """Customers."""
        return float(self.weights.sum())

    facts: dict = field(default_factory=dict)


def discounted_purchases_draws(rfm: pd.DataFrame, params, times, coefficients, formulas,
                               model=None):
    """Per-draw ``sum_k coefficients[k] * E[purchases by times[k] | history]`` (a matrix of
    coefficients gives one column per coefficient column).

    ``params`` are the four parameters as ``(1, D)`` row vectors of draws. Returns ``(compute,
    n_histories, inverse)``: ``compute(rows)`` gives the ``(len(rows), D)`` values for rows of
    unique histories, ``inverse`` maps customers to them. The hypergeometric part runs once per
    distinct (frequency, T) pair, draw and time, a block of times at a time (memory stays
    bounded however long the horizon). ``formulas`` is the model's module of
    ``clvmodels._math`` (BG/NBD or a sibling with the same functions). With a ``model`` that
    has covariates, each customer has the parameters of her covariates: the rows are then the
    unique (history, covariates).
    """
    x, t_x, T = rfm_arrays(rfm)
    design = None if model is None else model._covariate_design(rfm)
    first, inverse, design = unique_with_covariates([x, t_x, T], design)
    x, t_x, T = x[first][:, None], t_x[first][:, None], T[first][:, None]
    pairs, pair_of, _ = unique_with_covariates([x[:, 0], T[:, 0]], design)
    if design is not None:
        params = model.customer_parameters(params, design)
    times = np.asarray(times, dtype=float)
    coefficients = np.asarray(coefficients, dtype=float)
    n_draws = max(p.shape[1] for p in params)
    factor = np.zeros((len(pairs), n_draws, *coefficients.shape[1:]))

    def work(start, stop):  # the pairs start:stop, a block of times at a time
        chunk = pairs[start:stop]
        step = max(1, CHUNK_ELEMENTS // (len(chunk) * n_draws))
        for first_time in range(0, len(times), step):
            block = slice(first_time, first_time + step)
            with np.errstate(all="ignore"):
                if_alive = formulas.expected_purchases_if_alive(
                    *(p[..., None] for p in take_rows(params, chunk)), x[chunk, :, None],
                    T[chunk, :, None], times[None, None, block])
            factor[start:stop] += if_alive @ coefficients[block]  # (pairs, draws[, columns])

    for_each_chunk(work, len(pairs), max(1, CHUNK_ELEMENTS // (n_draws * len(times) or 1)))

    def compute(rows):
        alive = formulas.probability_alive(*take_rows(params, rows), x[rows], t_x[rows],
                                           T[rows])
        values = factor[pair_of[rows]]
        return values * (alive if values.ndim == 2 else alive[..., None])

    return compute, len(first), inverse

def discounted_purchases_direct(rfm: pd.DataFrame, params, times, coefficients, formulas):
    """:func:`discounted_purchases_draws` for a model whose forecast is not a function of
    (x, T) times P(alive) (the regularity models: the time since the last purchase matters;
    the correlated Pareto/NBD: a mixture whose weights depend on the whole history):
    ``formulas.expected_purchases`` once per unique (x, t_x, T), draw and time."""
    x, t_x, T = rfm_arrays(rfm)
    first, inverse, _ = unique_with_covariates([x, t_x, T], None)
    x, t_x, T = x[first][:, None], t_x[first][:, None], T[first][:, None]
    times = np.asarray(times, dtype=float)
    coefficients = np.asarray(coefficients, dtype=float)
    n_draws = max(p.shape[1] for p in params)
    factor = np.zeros((len(first), n_draws, *coefficients.shape[1:]))

    def work(start, stop):  # the histories start:stop, a block of times at a time
        rows = slice(start, stop)
        step = max(1, CHUNK_ELEMENTS // ((stop - start) * n_draws))
        for first_time in range(0, len(times), step):
            block = slice(first_time, first_time + step)
            with np.errstate(all="ignore"):
                values = formulas.expected_purchases(
                    *(p[..., None] for p in params), x[rows, :, None], t_x[rows, :, None],
                    T[rows, :, None], times[None, None, block])
            factor[rows] += values @ coefficients[block]

    for_each_chunk(work, len(first), max(1, CHUNK_ELEMENTS // (n_draws * len(times) or 1)))

    def compute(rows):
        return factor[rows]

    return compute, len(first), inverse


class PurchaseModel:
    """A purchase model over the histories (x, t_x, T): the specification's shared parts and the
    predictions, evaluated by the subclass's ``formulas`` over parameter draws. Subclasses
    declare ``name``, ``title``, ``param_names``, ``formulas``, ``covariate_links``,
    ``initial_params`` and ``default_priors`` (and may replace ``prepare``, ``loglik_grad``
    and the predictions their formulas do not share).

    Every prediction takes ``interval=None`` (a Series of means) or a mass such as 0.94 (a
    DataFrame of ``mean``, ``lower``, ``upper``), ``max_draws`` to thin a posterior,
    ``return_draws=True`` for the draws themselves (up to 10,000 customers), and ``time_unit``
    for a frame that records none. Horizons ``t`` are a number, a per-customer Series or a
    ``pd.Timedelta``, in the model's time unit.
    """

    kind = "purchases"
    columns = RFM_COLUMNS  # what the predictions read (and ModelPair.score compresses on)
    covariate_links: dict = {}
    # the forecast is P(alive) times E[X | alive], a function of (x, T): evaluated once per
    # distinct (x, T) pair (False: once per unique history, discounted_purchases_direct)
    pair_shortcut = True

    # -- specification -------------------------------------------------------------------------
    def prepare(self, rfm: pd.DataFrame, weights=None) -> Histories:
        """The unique (x, t_x, T) histories of ``rfm`` with their counts (or summed
        ``weights``).

        Parameters
        ----------
        rfm : pandas.DataFrame
            The customers to fit on.
        weights : numpy.ndarray, optional
            Customers per row.

        Returns
        -------
        Histories
        """
        check_rfm(rfm)
        x, t_x, T = rfm_arrays(rfm)
        if not (x[weights > 0] if weights is not None else x > 0).any():
            raise DataError(
                f"no customer made a repeat purchase, so {self.title} cannot estimate purchase "
                "rates (they run off to zero); use a longer observation window"
            )
        first, inverse, counts = unique_rows(x, t_x, T)
        if weights is not None:
            counts = np.bincount(inverse, weights=weights, minlength=len(first))
        return Histories(x[first], t_x[first], T[first], counts.astype(np.float64))

    def row_columns(self, rfm: pd.DataFrame):
        """The columns the per-customer likelihood reads, and which rows it uses (all).

        Parameters
        ----------
        rfm : pandas.DataFrame

        Returns
        -------
        (list of numpy.ndarray, None)
        """
        return rfm_arrays(rfm), None

    def row_loglik_grad(self, params, columns):
        """Per-customer log-likelihood and its gradient in each customer's parameters
        (``formulas.row_loglik_grad``), for the covariate models.

        Parameters
        ----------
        params : list
            The parameters, each a number or one value per row.
        columns : list of numpy.ndarray
            :meth:`row_columns`.

        Returns
        -------
        (numpy.ndarray, list of numpy.ndarray)
        """
        return self.formulas.row_loglik_grad(*params, *columns)

    def subsample(self, data: Histories, fraction: float, rng) -> Histories:
        """A random share of the customers (binomial thinning of the counts).

        Parameters
        ----------
        data : Histories
        fraction : float
        rng : numpy.random.Generator

        Returns
        -------
        Histories
        """
        kept = rng.binomial(data.weights.astype(np.int64), fraction).astype(np.float64)
        rows = kept > 0
        return Histories(data.x[rows], data.t_x[rows], data.T[rows], kept[rows])

    def loglik_grad(self, params, data: Histories):
        """Total log-likelihood (FHL 2005, eq. 6; a sibling's from its ``formulas``) and its
        gradient in (r, alpha, a, b).

        Parameters
        ----------
        params : numpy.ndarray
            r, alpha, a, b.
        data : Histories

        Returns
        -------
        (float, numpy.ndarray)
        """
        return self.formulas.total_loglik_grad(*params, data.x, data.t_x, data.T, data.weights,
                                               data.x_levels, data.time_levels)

    def loglik_tensor(self, params: dict, data: Histories, xp):
        """The same total as a PyTensor expression.

        Parameters
        ----------
        params : dict
            PyTensor scalars by name.
        data : Histories
        xp : namespace
            :func:`clvmodels._math.pytensor_namespace`.

        Returns
        -------
        pytensor.tensor.TensorVariable
        """
        import pytensor.tensor as pt

        ll = self.formulas.loglik(*(params[name] for name in self.param_names),
                                  data.x, data.t_x, data.T, xp=xp, x_levels=data.x_levels,
                                  time_levels=data.time_levels)
        return pt.dot(data.weights, ll)

    # -- predictions ---------------------------------------------------------------------------
    def _unique_histories(self, rfm, time_unit, extra=None):
        """The unique histories (and per-customer ``extra``; with covariates, unique with
        them) as columns, the map back, and the rows' covariates (None without)."""
        self.checked_frame(rfm, RFM_COLUMNS, time_unit)
        columns = rfm_arrays(rfm)
        if extra is not None:
            columns.append(np.broadcast_to(extra, columns[0].shape))
        first, inverse, design = unique_with_covariates(columns, self._covariate_design(rfm))
        return [c[first][:, None] for c in columns], inverse, design

    def per_history(self, formula, name, rfm, t=None, *, interval=None, max_draws=None,
                    return_draws=False, time_unit=None):
        """A prediction evaluated once per unique history and draw: ``formula(*params, x, t_x,
        T)`` (or ``formula(*params, x, t_x, T, t)`` with a horizon ``t``), a function of
        ``clvmodels._math`` giving ``(rows, draws)`` arrays, summarised per customer
        (:meth:`summarise`).

        Parameters
        ----------
        formula : callable
        name : str
            The result's name.
        rfm : pandas.DataFrame
        t : float, pandas.Series or pandas.Timedelta, optional
        interval, max_draws, return_draws, time_unit
            As every prediction.

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        extra = None if t is None else self.horizon(t, rfm)
        columns, inverse, design = self._unique_histories(rfm, time_unit, extra)
        params = self.customer_parameters(self.parameter_draws(max_draws, interval), design)
        return self.summarise(
            lambda rows: formula(*take_rows(params, rows), *(c[rows] for c in columns)),
            len(columns[0]), params, interval, name, rfm.index,
            expand=inverse, return_draws=return_draws)

    @fill_doc
    def probability_alive(self, rfm: pd.DataFrame, *, interval=None, max_draws=None,
                          return_draws=False, time_unit=None):
        """P(alive | x, t_x, T) at the end of observation (FHL 2005 note, eq. 13).

        .. math:: \\left[1 + \\delta_{x>0} \\frac{a}{b+x-1}
                  \\left(\\frac{\\alpha+T}{\\alpha+t_x}\\right)^{r+x}\\right]^{-1}

        Parameters
        ----------
        {rfm}
        {options}

        Returns
        -------
        {returns}
        """
        return self.per_history(
            self.formulas.probability_alive,
            "probability_alive", rfm, interval=interval, max_draws=max_draws,
            return_draws=return_draws, time_unit=time_unit)

    @fill_doc
    def probability_any_purchase(self, rfm: pd.DataFrame, t, *, interval=None, max_draws=None,
                                 return_draws=False, time_unit=None):
        """P(at least one purchase in the next ``t`` | history): P(alive) times
        :math:`1 - ((\\alpha+T)/(\\alpha+T+t))^{r+x}` (alive, no purchase in ``t`` has the
        probability of the history-updated Gamma(r + x, alpha + T) rate giving none).

        Parameters
        ----------
        {rfm}
        {t}
        {options}

        Returns
        -------
        {returns}
        """
        return self.per_history(
            self.formulas.probability_any_purchase,
            "probability_any_purchase", rfm, t, interval=interval, max_draws=max_draws,
            return_draws=return_draws, time_unit=time_unit)

    @fill_doc
    def expected_purchases(self, rfm: pd.DataFrame, t, *, interval=None, max_draws=None,
                           return_draws=False, time_unit=None):
        """Expected purchases of each customer in the next ``t``, given the history (FHL 2005,
        eq. 10).

        .. math:: \\frac{\\frac{a+b+x-1}{a-1}\\left[1-\\left(\\frac{\\alpha+T}{\\alpha+T+t}\\right)^{r+x}
                  {}_2F_1\\left(r+x, b+x; a+b+x-1; \\frac{t}{\\alpha+T+t}\\right)\\right]}
                  {1+\\delta_{x>0}\\frac{a}{b+x-1}\\left(\\frac{\\alpha+T}{\\alpha+t_x}\\right)^{r+x}}

        Parameters
        ----------
        {rfm}
        {t}
        {options}

        Returns
        -------
        {returns}

        Examples
        --------
        >>> import clvmodels
        >>> rfm = clvmodels.rfm_summary(clvmodels.load_cdnow(), time_unit="W")
        >>> model = clvmodels.BetaGeo().fit(rfm)
        >>> round(float(model.expected_purchases(rfm, 52).sum()), 1)
        1966.7
        """
        horizon = self.horizon(t, rfm)
        if horizon.ndim == 0:  # one horizon: through the purchase-model protocol (the BG/NBD
            # family runs its hypergeometric part once per (x, T) pair there)
            params = self.parameter_draws(max_draws, interval)
            compute, n_rows, inverse = self.discounted_purchases(
                rfm, [float(horizon)], [1.0], max_draws, time_unit, interval)
            return self.summarise(compute, n_rows, params, interval,
                                  "expected_purchases", rfm.index, expand=inverse,
                                  return_draws=return_draws)
        return self.per_history(
            self.formulas.expected_purchases,
            "expected_purchases", rfm, t, interval=interval, max_draws=max_draws,
            return_draws=return_draws, time_unit=time_unit)

    @fill_doc
    def probability_alive_at(self, rfm: pd.DataFrame, t, *, interval=None, max_draws=None,
                             return_draws=False, time_unit=None):
        """P(alive at ``t`` after the end of observation | history): P(alive) times the
        chance of surviving ``t`` more (BG/NBD, MBG/NBD: no dropout at the purchases of ``t``;
        Pareto/NBD: :math:`((\\beta+T)/(\\beta+T+t))^s`; BG/BB: at opportunity n + t).

        Parameters
        ----------
        {rfm}
        {t}
        {options}

        Returns
        -------
        {returns}
        """
        return self.per_history(
            self.formulas.probability_alive_at,
            "probability_alive_at", rfm, t, interval=interval, max_draws=max_draws,
            return_draws=return_draws, time_unit=time_unit)

    @fill_doc
    def conditional_probability_of_purchases(self, rfm: pd.DataFrame, n: int, t, *,
                                             interval=None, max_draws=None, return_draws=False,
                                             time_unit=None):
        """P(exactly ``n`` purchases in the next ``t`` | history): dead, or alive and then like
        a new customer with the posterior parameters (each model's ``formulas``; Fader &
        Hardie's 2006 note for Pareto/NBD).

        Parameters
        ----------
        {rfm}
        n : int
            A whole number >= 0.
        {t}
        {options}

        Returns
        -------
        {returns}
        """
        check_count(n, "n")
        return self.per_history(
            lambda *args: self.formulas.conditional_probability_of_purchases(
                *args[:-1], float(n), args[-1]),
            f"probability_of_{int(n)}_purchases", rfm, t, interval=interval,
            max_draws=max_draws, return_draws=return_draws, time_unit=time_unit)

    def purchase_quantiles(self, rfm: pd.DataFrame, t, probabilities, *,
                           max_purchases: int = 1000, time_unit=None) -> pd.DataFrame:
        """Quantiles of each customer's actual purchases in the next ``t``: the smallest n with
        P(Y(t) <= n | history) >= p, for each ``p`` of ``probabilities``, all from one pass
        over n. Uses the estimate (a Bayesian model: the posterior mean parameters).

        Parameters
        ----------
        rfm : pandas.DataFrame
        t : float or pandas.Series
            The horizon (opportunities for BG/BB): one for all, or one per customer.
        probabilities : sequence of float
            In (0, 1).
        max_purchases : int
            The largest count searched; a DataError names the customers who would need more.
        time_unit : str, optional

        Returns
        -------
        pandas.DataFrame
            One column per probability: whole numbers of purchases.
        """
        targets = check_numbers(probabilities, "probabilities", "numbers in (0, 1)")
        if not np.all((targets > 0) & (targets < 1)):
            raise DataError(f"probabilities must lie in (0, 1), not {probabilities!r}")
        max_purchases = check_count(max_purchases, "max_purchases", low=1, high=1_000_000)
        self.checked_frame(rfm, self.columns, time_unit)
        draws = self.parameter_draws()
        params = draws.like(np.array([[float(np.mean(p))]]) for p in draws)
        (x, t_x, T, horizon), inverse, design = self._unique_histories(
            rfm, time_unit, self.horizon(t, rfm))
        params = self.customer_parameters(params, design)
        found = np.full((len(x), len(targets)), -1.0)
        cdf = np.zeros(len(x))
        for n in range(max_purchases + 1):
            cdf = cdf + self.formulas.conditional_probability_of_purchases(
                *params, x, t_x, T, float(n), horizon)[:, 0]
            newly = (found < 0) & (cdf[:, None] >= targets[None, :] - 1e-12)
            found[newly] = n
            if (found >= 0).all():
                break
        if (found < 0).any():
            i = int(np.flatnonzero((found < 0).any(axis=1))[0])
            raise DataError(f"a customer with frequency={x[i, 0]:g} would need more than "
                            f"max_purchases={max_purchases} purchases in the interval: raise it")
        return pd.DataFrame(found[inverse], index=rfm.index, columns=targets)

    def purchase_interval(self, rfm: pd.DataFrame, t, mass: float = 0.9, *,
                          max_purchases: int = 1000, time_unit=None) -> pd.DataFrame:
        """A predictive interval for each customer's actual purchases in the next ``t``: the
        equal-tailed quantiles of P(Y(t) = n | history) (not an interval for the expected
        value), with the median (:meth:`purchase_quantiles`).

        Parameters
        ----------
        rfm : pandas.DataFrame
        t : float or pandas.Series
            The horizon (opportunities for BG/BB): one for all, or one per customer.
        mass : float
            The interval's probability, in (0, 1).
        max_purchases : int
        time_unit : str, optional

        Returns
        -------
        pandas.DataFrame
            ``lower``, ``median``, ``upper``: whole numbers of purchases.
        """
        check_mass(mass, "mass")
        table = self.purchase_quantiles(rfm, t, [(1 - mass) / 2, 0.5, (1 + mass) / 2],
                                        max_purchases=max_purchases, time_unit=time_unit)
        table.columns = ["lower", "median", "upper"]
        return table

    def expected_purchases_path(self, rfm: pd.DataFrame, times, *, max_draws=None,
                                time_unit=None) -> pd.DataFrame:
        """Cumulative expected purchases (posterior means) at several horizons ``times``.

        Parameters
        ----------
        rfm : pandas.DataFrame
            The customers, in the model's time unit.
        times : list of float or pandas.Timedelta
            The horizons.
        max_draws : int, optional
            Use at most this many parameter draws.
        time_unit : str, optional
            The unit of a frame that records none.

        Returns
        -------
        pandas.DataFrame
            One row per customer, one column per horizon (in the model's unit).
        """
        times = np.atleast_1d(self.horizon(times)).astype(float)
        params = self.parameter_draws(max_draws)
        compute, n_rows, inverse = self.discounted_purchases(rfm, times, np.eye(len(times)),
                                                             max_draws, time_unit)
        values = np.concatenate([row_means(compute(rows)) for rows in np.array_split(
            np.arange(n_rows), max(1, n_rows * params[0].shape[1] * len(times)
                                   // CHUNK_ELEMENTS))])
        return pd.DataFrame(values[inverse], index=rfm.index, columns=times)

    def discounted_purchases(self, rfm: pd.DataFrame, times, coefficients, max_draws=None,
                             time_unit=None, interval=None):
        """The purchase-model protocol of :func:`clvmodels.customer_value`: per draw,
        ``sum_k coefficients[k] * E[purchases by times[k]]``.

        Parameters
        ----------
        rfm : pandas.DataFrame
            The customers.
        times : array-like
            Horizons, in the model's unit.
        coefficients : array-like
            One per time (or a matrix: one column of results per column).
        max_draws : int, optional
        time_unit : str, optional
        interval : float, optional
            Whether draws for an interval are wanted (a maximum-likelihood model then draws
            from its estimate's asymptotic distribution).

        Returns
        -------
        (compute, n_histories, inverse)
            ``compute(rows)`` gives ``(len(rows), D)`` values for rows of unique histories;
            ``inverse`` maps each customer of ``rfm`` to its row.
        """
        self.checked_frame(rfm, RFM_COLUMNS, time_unit)
        if not self.pair_shortcut:
            return discounted_purchases_direct(rfm, self.parameter_draws(max_draws, interval),
                                               times, coefficients, self.formulas)
        return discounted_purchases_draws(rfm, self.parameter_draws(max_draws, interval), times,
                                          coefficients, self.formulas, self)

    def expected_purchases_new_customer(self, t, *, max_draws=None, customers=None):
        """Expected purchases by ``t`` of a customer just acquired (FHL 2005, eq. 9).

        Parameters
        ----------
        t : float, array-like or pandas.Timedelta
            Horizons in the model's unit.
        max_draws : int, optional
        customers : pandas.DataFrame, optional
            New customers' covariate columns, one row each (needed by a model with
            covariates).

        Returns
        -------
        float, numpy.ndarray, pandas.Series or pandas.DataFrame
            One value per horizon (the posterior mean for a Bayesian fit); with ``customers``,
            one row per customer (a Series for one horizon).
        """
        self.check_fitted()
        t = np.asarray(self.horizon(t), dtype=float)
        params = self._new_customer_parameters(self.parameter_draws(max_draws), customers)
        values = row_means(self.formulas.expected_purchases_new(
            *(p[..., None] for p in params), t.reshape(1, 1, -1)))  # (rows, t)
        if customers is None:
            return values.reshape(t.shape)[()]
        return per_new_customer(values, customers.index, t, "expected_purchases")

    def probability_of_purchases(self, n, t, *, max_draws=None, customers=None):
        """P(X(t) = n): probability that a customer just acquired makes ``n`` repeat purchases
        by ``t`` (FHL 2005, eq. 8).

        Parameters
        ----------
        n : int or array-like
            Whole numbers >= 0.
        t : float, array-like or pandas.Timedelta
            Horizons in the model's unit; broadcast against ``n``.
        max_draws : int, optional
        customers : pandas.DataFrame, optional
            New customers' covariate columns, one row each (needed by a model with
            covariates); then ``n`` and ``t`` are one number each.

        Returns
        -------
        float, numpy.ndarray or pandas.Series
            The probabilities (posterior means for a Bayesian fit); with ``customers``, one
            per customer.
        """
        self.check_fitted()
        n = np.asarray(n, dtype=float)
        if np.any(n < 0) or np.any(n != np.round(n)):
            raise DataError("n must be whole numbers >= 0")
        t = np.asarray(self.horizon(t), dtype=float)
        n, t = np.broadcast_arrays(n, t)
        if customers is not None and n.ndim:
            raise DataError("with customers=, give n and t as one number each")
        params = self._new_customer_parameters(self.parameter_draws(max_draws), customers)
        value = self.formulas.probability_of_purchases(
            *(p[..., None] for p in params), n.reshape(1, 1, -1), t.reshape(1, 1, -1))
        value = row_means(value)  # (rows, points)
        if customers is None:
            return value.reshape(n.shape)[()]
        return pd.Series(value[:, 0], index=customers.index,
                         name=f"probability_of_{int(n)}_purchases")


def per_new_customer(values: np.ndarray, index: pd.Index, t: np.ndarray, name: str):
    """``(customers, horizons)`` values as a Series (one horizon) or a DataFrame."""
    if t.ndim == 0:
        return pd.Series(values[:, 0], index=index, name=name)
    return pd.DataFrame(values, index=index, columns=t.ravel())


class FrequencyCheck:
    """The prior and posterior predictive check of a Bayesian purchase model of the BG/NBD
    family (its ``formulas`` give P(X(t) = n) for a new customer)."""

    def predictive_check(self, rfm, *, kind="prior", max_frequency=7, draws=500, interval=0.94,
                         random_state=None) -> pd.DataFrame:
        """Prior or posterior predictive check of the calibration frequencies.

        Parameters
        ----------
        rfm : pandas.DataFrame
            The calibration customers.
        kind : {"prior", "posterior"}
        max_frequency : int
            Frequencies from this on are pooled.
        draws : int
            Parameter draws used.
        interval : float
        random_state : int, optional

        For each parameter draw (from the priors, or the posterior), the expected share of
        customers with 0, 1, ..., ``max_frequency``+ repeat purchases in their own window T is
        the mean over customers of P(X(T) = n) (FHL 2005, eq. 8). Returns, per frequency, the
        observed share and the predicted mean share with an equal-tailed interval. The prior
        check needs no fit.

        Returns
        -------
        pandas.DataFrame
            Per frequency: ``observed``, ``mean``, ``lower``, ``upper``.
        """
        if kind not in ("prior", "posterior"):
            raise ValueError("kind must be 'prior' or 'posterior'")
        if self.covariates:
            raise DataError("the predictive check is not available for a model with covariates "
                            "yet: compare fits with clvmodels.backtest instead")
        data = self.prepare(rfm)
        if kind == "prior":
            rng = np.random.default_rng(random_state)
            priors = self.prior_parameters(data)
            drawn = prior_draws(priors, self.param_names, draws, rng)
            params = [drawn[k][:, None, None] for k in self.param_names]
        else:
            params = [p.ravel()[:, None, None] for p in self.parameter_draws(draws)]
        ages, index = np.unique(data.T, return_inverse=True)
        age_weights = np.bincount(index, weights=data.weights) / data.n
        n = np.arange(max_frequency)[None, None, :]
        with np.errstate(all="ignore"):
            p = self.formulas.probability_of_purchases(*params, n, ages[None, :, None])
        shares = np.einsum("dan,a->dn", p, age_weights)
        shares = np.concatenate([shares, 1 - shares.sum(axis=1, keepdims=True)], axis=1)
        observed = np.bincount(np.minimum(data.x, max_frequency).astype(int),
                               weights=data.weights, minlength=max_frequency + 1) / data.n
        lower, upper = np.nanquantile(shares, [(1 - interval) / 2, (1 + interval) / 2], axis=0)
        labels = [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]
        return pd.DataFrame({"observed": observed, "mean": np.nanmean(shares, axis=0),
                             "lower": lower, "upper": upper},
                            index=pd.Index(labels, name="frequency"))


