"""Pareto/NBD with covariates that change over time (Bachmann, Meierer & Naef 2021; the formulas
are :mod:`clvmodels._math.pnbd_dynamic`), by maximum likelihood.

A covariate is either a column of the RFM frame (static, as for :class:`ParetoNBD`) or a column
of a table of covariates over time (:func:`clvmodels.read_covariates_over_time`): the purchase
rate is multiplied by ``exp(gamma' z(t))`` and the dropout rate likewise, period by period.
Every call that needs the paths takes the table (``covariates_over_time=``; by default the one
the model was fitted with, which a model file does not keep): the fit needs each customer's
periods from her first purchase to the end of the calibration, a forecast over ``t`` needs them
up to ``T + t``. The frame must be built with the same table
(``rfm_summary(..., covariates_over_time=table)``): the likelihood reads each customer's first
purchase and the covariates summed over her repeat purchases.

Encoding: a static column as for static covariates (:mod:`clvmodels.covariates`); a column over
time is standardised by the mean and standard deviation over customers of its values over each
customer's calibration time (each customer weighs one; her periods by their share of her time):
a covariate constant over time is then encoded exactly as the static one, and the model is the
static-covariate Pareto/NBD, to the last digits.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._math import linear_predictor
from .._math import pnbd_dynamic as dyn
from ..covariates import Encoding
from ..data import AT_PURCHASES, FIRST_PURCHASE, HISTORY, check_rfm, rfm_time_unit
from ..exceptions import DataError, ModelFormatError
from ..interface import arg, given, show
from ..over_time import CovariatesOverTime, Pieces, unit_days
from .base import MaximumLikelihoodModel, check_weights, maximum_likelihood
from .options import FitOptions
from .regression import HESSIAN_REUSE
from .pareto_nbd import ParetoNBD

PROCESSES = {"purchase": "alpha", "dropout": "beta"}  # the parameter each process moves
SETTING = "covariates_over_time"
BLOCK_CUSTOMERS = 20_000  # customers whose paths a prediction holds at once


@dataclass
class OverTimeData:
    """The prepared data of :class:`TimeVaryingParetoNBD`: per customer ``x``, ``t_x``, ``T``,
    ``weights``, the purchase-time sums ``sums_p``, the static design ``zs_p``, ``zs_d``; per
    table row the encoded covariates over time ``zt_p``, ``zt_d``; the calibration ``pieces``
    (cut at t_x; ``dead`` marks those in ``(t_x, T]``); the plain Pareto/NBD's data ``base``."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    weights: np.ndarray
    sums_p: np.ndarray
    zs_p: np.ndarray
    zs_d: np.ndarray
    zt_p: np.ndarray
    zt_d: np.ndarray
    pieces: Pieces
    dead: np.ndarray
    base: object = None
    facts: dict = field(default_factory=dict)

    @property
    def n(self) -> float:
        """Customers."""
        return float(self.weights.sum())

    def subset(self, rows: np.ndarray) -> "OverTimeData":
        """The data of the customers ``rows`` (sorted positions)."""
        keep = np.zeros(len(self.x), dtype=bool)
        keep[rows] = True
        new_row = np.cumsum(keep) - 1
        mask = keep[self.pieces.row]
        row = new_row[self.pieces.row[mask]]
        pieces = Pieces(row, self.pieces.lo[mask], self.pieces.width[mask],
                        self.pieces.source[mask], np.searchsorted(row, np.arange(len(rows) + 1)))
        return OverTimeData(self.x[rows], self.t_x[rows], self.T[rows], self.weights[rows],
                            self.sums_p[rows], self.zs_p[rows], self.zs_d[rows], self.zt_p,
                            self.zt_d, pieces, self.dead[mask], None, dict(self.facts))


def calibration_pieces(table: CovariatesOverTime, ids, origin, t_x, T, unit) -> tuple:
    """Each customer's ``[0, T]`` cut at the periods and at t_x, and which pieces lie after
    t_x."""
    zero = np.zeros(len(t_x))
    before = table.pieces(ids, origin, zero, t_x, unit, SETTING, "her calibration history")
    after = table.pieces(ids, origin, t_x, T, unit, SETTING, "her calibration history")
    row = np.r_[before.row, after.row]
    order = np.argsort(row, kind="stable")
    row = row[order]
    pieces = Pieces(row, np.r_[before.lo, after.lo][order], np.r_[before.width,
                    after.width][order], np.r_[before.source, after.source][order],
                    np.searchsorted(row, np.arange(len(t_x) + 1)))
    dead = np.r_[np.zeros(len(before), dtype=bool), np.ones(len(after), dtype=bool)][order]
    return pieces, dead


class TimeVaryingSpecification:
    """The specification the maximum-likelihood engine fits: Pareto/NBD's four parameters, then
    a coefficient per design column of the purchase process (``alpha:<column>``) and of the
    dropout process (``beta:<column>``), static columns first.

    Parameters
    ----------
    processes : dict
        ``{"purchase": [column, ...], "dropout": [...]}``.
    table : CovariatesOverTime
        The covariates over time (None for a loaded model until one is given).
    encodings : dict, optional
        ``{column: Encoding}`` of a fitted model; fitted by :meth:`prepare` otherwise.
    """

    name = "pnbd_tv"
    title = "Pareto/NBD with covariates over time"
    kind = "purchases"
    fit_name = "TimeVaryingParetoNBD"
    # as static covariates: L-BFGS-B to 1e-4, then Newton steps with the Hessian (differences
    # of the analytic gradient, one pass per parameter), kept for the covariance while the
    # estimate moves less than 1e-3 sqrt(n) standard errors
    fit_options = FitOptions(lbfgs_gtol=1e-4, newton_steps=5, hessian_reuse=HESSIAN_REUSE)
    base_names = ("r", "alpha", "s", "beta")

    def __init__(self, processes: dict, table: CovariatesOverTime | None, encodings=None,
                 over_time=None):
        self.processes = {p: tuple(processes.get(p, ())) for p in PROCESSES}
        self.table = table
        self.encodings = encodings
        self.over_time = tuple(over_time or ())
        if encodings is not None:
            self._name_parameters()

    # -- the design ------------------------------------------------------------------------------
    def _static(self, process):
        return [c for c in self.processes[process] if c not in self.over_time]

    def _dynamic(self, process):
        return [c for c in self.processes[process] if c in self.over_time]

    def _name_parameters(self) -> None:
        names = list(self.base_names)
        self.columns_of = {}
        for process, param in PROCESSES.items():
            design = [n for c in self._static(process) for n in self.encodings[c].names]
            design += self._dynamic(process)
            self.columns_of[process] = design
            names += [f"{param}:{c}" for c in design]
        self.param_names = tuple(names)
        self.positive = np.r_[np.ones(4, dtype=bool), np.zeros(len(names) - 4, dtype=bool)]
        self.k_p = len(self.columns_of["purchase"])

    def _resolve(self, rfm: pd.DataFrame) -> None:
        """Which covariates are over time (a column of the table) and which static (of the
        frame); a DataError for one in both or in neither."""
        over_time = []
        for process, columns in self.processes.items():
            for c in columns:
                in_table, in_frame = c in self.table.columns, c in rfm.columns
                if in_table and in_frame:
                    raise DataError(f"covariate {c!r} ({arg(process + '_covariates')}) is both a "
                                    f"column of the RFM frame and of {self.table.source} "
                                    f"({arg(SETTING)}): rename one")
                if not in_table and not in_frame:
                    raise DataError(f"covariate {c!r} ({arg(process + '_covariates')}) is neither "
                                    f"a column of the RFM frame nor of {self.table.source} "
                                    f"({arg(SETTING)}, which has {list(self.table.columns)})")
                if in_table:
                    over_time.append(c)
        self.over_time = tuple(dict.fromkeys(over_time))

    def static_design(self, rfm: pd.DataFrame, process: str) -> np.ndarray:
        """The encoded static columns of ``process`` for the customers of ``rfm``."""
        parts = [self.encodings[c].transform(rfm, process + "_covariates")
                 for c in self._static(process)]
        return np.hstack(parts) if parts else np.zeros((len(rfm), 0))

    def table_design(self, table: CovariatesOverTime, process: str) -> np.ndarray:
        """The encoded covariates over time of ``process``, per row of ``table``."""
        columns = self._dynamic(process)
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise DataError(f"{table.source} ({arg(SETTING)}) has no column {missing[0]!r}, a "
                            f"covariate over time of this model; it has {list(table.columns)}")
        out = np.empty((len(table.values), len(columns)))
        for j, c in enumerate(columns):
            e = self.encodings[c]
            out[:, j] = (table.values[:, table.columns.index(c)] - e.mean) / e.scale
        return out

    def _fit_encodings(self, rfm, weights, pieces, T) -> None:
        """The encodings: a static column's from the frame, a column over time's from each
        customer's calibration ``pieces`` (the module docstring)."""
        encodings = {}
        statics = dict.fromkeys(c for p in PROCESSES for c in self._static(p))
        for c in statics:
            encodings[c] = Encoding.fit(rfm, c, "covariates", weights)
        if self.over_time:
            n = len(T)
            has = T > 0
            if not has.any():
                raise DataError("every customer's calibration time T is 0: covariates over "
                                "time have no time to act on")
            w = (weights if weights is not None else np.ones(n))[has]
            share = pieces.width / np.where(T > 0, T, 1.0)[pieces.row]
            for c in self.over_time:
                v = self.table.values[pieces.source, self.table.columns.index(c)]
                mean_i = np.bincount(pieces.row, weights=share * v, minlength=n)[has]
                mean = float(np.average(mean_i, weights=w))
                var_i = np.bincount(pieces.row, weights=share * (v - mean) ** 2,
                                    minlength=n)[has]
                scale = float(np.sqrt(np.average(var_i, weights=w)))
                if not scale > 1e-12 * max(1.0, abs(mean)):
                    raise DataError(f"covariate over time {c!r} is constant over the customers' "
                                    "calibration periods: it cannot have an effect; drop it")
                encodings[c] = Encoding(c, "numeric", mean=mean, scale=scale)
        self.encodings = encodings
        self._name_parameters()

    # -- the data ---------------------------------------------------------------------------------
    def histories(self, rfm: pd.DataFrame, table: CovariatesOverTime, time_unit=None):
        """The checked frame's ``x, t_x, T``, each customer's first purchase (a day number) and
        the days per time unit."""
        if not isinstance(table, CovariatesOverTime):
            raise DataError(f"{arg(SETTING)} must be a table read by "
                            "clvmodels.read_covariates_over_time (the one the frame was built "
                            f"with), not {type(table).__name__}")
        check_rfm(rfm)
        unit = time_unit or rfm_time_unit(rfm)
        if unit is None:
            raise DataError("the RFM frame records no time unit: build it with "
                            f"clvmodels.rfm_summary(..., {SETTING}=...)")
        days = unit_days(unit)
        if FIRST_PURCHASE not in rfm.columns:
            raise DataError(f"the RFM frame has no {FIRST_PURCHASE!r} column: build it with "
                            f"clvmodels.rfm_summary(..., {SETTING}=table), which adds each "
                            "customer's first purchase and her covariates at her purchases")
        first = pd.to_datetime(rfm[FIRST_PURCHASE], errors="coerce")
        if first.isna().any():
            bad = rfm.index[first.isna().to_numpy()][0]
            raise DataError(f"the RFM frame's {FIRST_PURCHASE!r} is not a date for customer "
                            f"{show(bad)}: rebuild the frame with clvmodels.rfm_summary")
        origin = (first.to_numpy().astype("datetime64[D]").astype(np.int64)).astype(float)
        x = rfm["frequency"].to_numpy(dtype=float)
        t_x = rfm["recency"].to_numpy(dtype=float)
        T = rfm["T"].to_numpy(dtype=float)
        return x, t_x, T, origin, days

    def check_history(self, rfm, table, pieces, T) -> None:
        """A DataError where ``table`` does not give a customer the history her frame was built
        with (``history:<column>``, the integral of each covariate over her time 0 to T, from
        her calibration ``pieces``): a forecast's table must repeat the history and change only
        what comes after it."""
        named = dict.fromkeys(c for cols in self.processes.values() for c in cols)
        columns = [c for c in named if c in table.columns]
        stored = [HISTORY + c for c in columns]
        missing = [c for c in stored if c not in rfm.columns]
        if missing:
            raise DataError(f"the RFM frame has no {missing[0]!r} column (each customer's "
                            "covariates over her history, which a table is checked against): "
                            f"build it with clvmodels.rfm_summary(..., {SETTING}=table)")
        found = table.integrals(pieces, len(T))[:, [table.columns.index(c) for c in columns]]
        expected = rfm[stored].to_numpy(dtype=float)
        bad = ~np.isclose(found, expected, rtol=1e-9, atol=1e-9 * (1.0 + T.max()))
        if bad.any():
            i, k = np.argwhere(bad)[0]
            raise DataError(
                f"{table.source} ({arg(SETTING)}) gives customer {show(rfm.index[i])} another "
                f"history of {columns[k]!r} than the RFM frame was built with (its integral from "
                f"her first purchase to T: {found[i, k]:.6g} against {expected[i, k]:.6g}; "
                f"{int(bad.any(axis=1).sum()):,} customer(s) differ): a forecast's table must "
                "repeat the history and change only the periods after the end of observation; "
                "if the history itself was corrected, rebuild the frame with the new table")

    def purchase_sums(self, rfm: pd.DataFrame, x: np.ndarray, zs_p: np.ndarray) -> np.ndarray:
        """Per customer, the purchase covariates summed over her repeat purchases, encoded:
        ``x z`` for a static column, ``(sum - x mean) / scale`` for one over time."""
        parts = [x[:, None] * zs_p]
        for c in self._dynamic("purchase"):
            column = AT_PURCHASES + c
            if column not in rfm.columns:
                raise DataError(f"the RFM frame has no {column!r} column (covariate over time "
                                f"{c!r} summed over the repeat purchases): build it with "
                                f"clvmodels.rfm_summary(..., {SETTING}=table)")
            e = self.encodings[c]
            parts.append(((rfm[column].to_numpy(dtype=float) - x * e.mean) / e.scale)[:, None])
        return np.hstack(parts)

    def prepare(self, rfm: pd.DataFrame, weights=None) -> OverTimeData:
        """Check the frame and the table and build the likelihood's data."""
        x, t_x, T, origin, unit = self.histories(rfm, self.table)
        w = np.ones(len(rfm)) if weights is None else np.asarray(weights, dtype=float)
        pieces, dead = calibration_pieces(self.table, rfm.index, origin, t_x, T, unit)
        self.check_history(rfm, self.table, pieces, T)
        if self.encodings is None:
            self._resolve(rfm)
            self._fit_encodings(rfm, weights, pieces, T)
        zs_p, zs_d = self.static_design(rfm, "purchase"), self.static_design(rfm, "dropout")
        return OverTimeData(x, t_x, T, w, self.purchase_sums(rfm, x, zs_p), zs_p, zs_d,
                            self.table_design(self.table, "purchase"),
                            self.table_design(self.table, "dropout"), pieces, dead,
                            base=ParetoNBD().prepare(rfm, weights))

    def subsample(self, data: OverTimeData, fraction: float, rng) -> OverTimeData:
        """A random share of the customers (the warm start)."""
        count = max(1, int(round(fraction * len(data.x))))
        return data.subset(np.sort(rng.choice(len(data.x), size=count, replace=False)))

    def initial_params(self, data: OverTimeData) -> np.ndarray:
        """Pareto/NBD's first guess (:meth:`ParetoNBD.initial_params`), every coefficient 0."""
        start = np.zeros(len(self.param_names))
        start[:4] = ParetoNBD().initial_params(data.base)
        return start

    def split(self, params):
        """``(r, alpha, s, beta, purchase coefficients, dropout coefficients)``."""
        params = np.asarray(params, dtype=float)
        return (*params[:4], params[4:4 + self.k_p], params[4 + self.k_p:])

    def loglik_grad(self, params, data: OverTimeData):
        """The weighted total log-likelihood and its gradient."""
        ll, grad, _, _ = dyn.loglik_grad(*self.split(params), data)
        return float(ll @ data.weights), data.weights @ grad

    def check_estimate(self, params: pd.Series) -> None:
        """Nothing to add to the engine's own checks."""


class TimeVaryingParetoNBD(MaximumLikelihoodModel):
    """Pareto/NBD with static covariates and covariates over time, by maximum likelihood
    (Bachmann, Meierer & Naef 2021; CLVTools' ``pnbd`` with dynamic covariates).

    Parameters
    ----------
    purchase_covariates, dropout_covariates : list of str
        Covariates of each process: columns of the RFM frame (static) or of the table of
        covariates over time.
    penalizer : float, default 0
        L2 penalty on all parameters (as the other models).

    Attributes
    ----------
    params_, covariance_, log_likelihood_, n_customers_, time_unit_
        As :class:`ParetoNBD`; the coefficients are named ``alpha:<column>`` (purchase:
        ``exp(coefficient)`` multiplies the purchase rate per standard deviation) and
        ``beta:<column>`` (dropout: it multiplies the dropout rate).
    covariates_over_time_ : CovariatesOverTime
        The table the predictions use by default (the fit's, or the one given to
        :meth:`with_covariates_over_time`); not kept in a model file.

    Examples
    --------
    See docs/time-varying-covariates.md and the notebook 07_time_varying_covariates.
    """

    name = "pnbd_tv"
    kind = "purchases"
    title = "Pareto/NBD with covariates over time"
    param_names = ("r", "alpha", "s", "beta")
    covariate_links = {"purchase": (("alpha", -1, "purchase rate"),),
                       "dropout": (("beta", -1, "dropout rate"),)}
    # each customer has her own path: rows with equal RFM columns are not one history
    compress_rows = False

    def __init__(self, purchase_covariates=(), dropout_covariates=(), penalizer: float = 0.0):
        for setting, value in (("purchase_covariates", purchase_covariates),
                               ("dropout_covariates", dropout_covariates)):
            if isinstance(value, str) or not all(isinstance(c, str) for c in value):
                raise DataError(f"{given(setting, value)}: give a list of column names")
        if not (purchase_covariates or dropout_covariates):
            raise DataError("a TimeVaryingParetoNBD needs covariates (purchase_covariates=, "
                            "dropout_covariates=); without them fit ParetoNBD")
        self.purchase_covariates = list(purchase_covariates)
        self.dropout_covariates = list(dropout_covariates)
        self.penalizer = penalizer
        self.covariates = {"purchase": tuple(purchase_covariates),
                           "dropout": tuple(dropout_covariates)}
        self.shared_covariates, self.covariate_penalty = (), None

    def _specification(self, table=None):
        return TimeVaryingSpecification(self.covariates, table)

    def fit(self, rfm: pd.DataFrame, covariates_over_time: CovariatesOverTime, weights=None):
        """Fit by maximum likelihood.

        Parameters
        ----------
        rfm : pandas.DataFrame
            Built with ``clvmodels.rfm_summary(..., covariates_over_time=table)`` (weeks or
            days), with the static covariates' columns.
        covariates_over_time : CovariatesOverTime
            The same table: each customer's periods from her first purchase to the end of
            the calibration.
        weights : pandas.Series or array-like, optional
            Customers per row (aligned by label when a Series).

        Returns
        -------
        self
        """
        spec = self._specification(covariates_over_time)
        w = check_weights(weights, rfm) if isinstance(rfm, pd.DataFrame) else None
        data = spec.prepare(rfm, w)
        estimate = maximum_likelihood(spec, data, self.penalizer)
        self.spec_ = spec
        names = list(spec.param_names)
        self.params_ = pd.Series(estimate.params, index=names, dtype=float)
        self.covariance_ = pd.DataFrame(estimate.covariance, index=names, columns=names)
        self.log_likelihood_ = estimate.log_likelihood
        self.n_customers_ = round(estimate.n)
        self.time_unit_ = rfm_time_unit(rfm)
        self.covariates_over_time_ = covariates_over_time
        return self

    def with_covariates_over_time(self, covariates_over_time: CovariatesOverTime):
        """A copy of this fitted model whose predictions use ``covariates_over_time`` by
        default (a loaded model, or a forecast under another scenario), for the functions that
        take the model alone (:func:`clvmodels.customer_value`)."""
        self.check_fitted()
        if not isinstance(covariates_over_time, CovariatesOverTime):
            raise DataError(f"{arg(SETTING)} must be a table read by "
                            "clvmodels.read_covariates_over_time, not "
                            f"{type(covariates_over_time).__name__}")
        model = copy.copy(self)
        model.covariates_over_time_ = covariates_over_time
        return model

    # -- predictions ------------------------------------------------------------------------------
    def _table(self, given_table):
        if given_table is not None:
            return given_table
        table = getattr(self, "covariates_over_time_", None)
        if table is None:
            raise DataError(f"this {type(self).__name__} has no covariates over time to forecast "
                            f"with (a model file does not keep them): give {arg(SETTING)}, or "
                            "use model.with_covariates_over_time(table)")
        return table

    def _prepared(self, rfm, table, time_unit=None):
        self.check_fitted()
        table = self._table(table)
        spec = self.spec_
        x, t_x, T, origin, unit = spec.histories(rfm, table, time_unit)
        if (time_unit or rfm_time_unit(rfm)) != self.time_unit_:
            raise DataError(f"the RFM frame is in {rfm_time_unit(rfm)!r} and the model in "
                            f"{self.time_unit_!r}: build the frame in the model's unit")
        pieces, dead = calibration_pieces(table, rfm.index, origin, t_x, T, unit)
        spec.check_history(rfm, table, pieces, T)
        zs_p, zs_d = spec.static_design(rfm, "purchase"), spec.static_design(rfm, "dropout")
        data = OverTimeData(x, t_x, T, np.ones(len(x)), spec.purchase_sums(rfm, x, zs_p),
                            zs_p, zs_d, spec.table_design(table, "purchase"),
                            spec.table_design(table, "dropout"), pieces, dead)
        return data, table, origin, unit

    def _future(self, data, table, origin, unit, times, ids):
        """The future pieces of ``(T, T + max(times)]`` cut at every ``T + times[k]``, and the
        window (index into ``times``, sorted) of each."""
        rows, los, widths, sources, window = [], [], [], [], []
        previous = np.zeros(len(data.T))
        for k, t in enumerate(times):
            p = table.pieces(ids, origin, data.T + previous, data.T + t, unit, SETTING,
                             f"the forecast to T + {t:g}")
            rows.append(p.row)
            los.append(p.lo)
            widths.append(p.width)
            sources.append(p.source)
            window.append(np.full(len(p.row), k))
            previous = np.full(len(data.T), float(t))
        row = np.concatenate(rows)
        order = np.argsort(row, kind="stable")
        row = row[order]
        pieces = Pieces(row, np.concatenate(los)[order], np.concatenate(widths)[order],
                        np.concatenate(sources)[order],
                        np.searchsorted(row, np.arange(len(data.T) + 1)))
        return pieces, np.concatenate(window)[order]

    def _forecast(self, params, data, future, window, n_windows, first=False):
        """Per customer and window: P(alive at T) and the expected purchases in each window
        of a customer alive at T, and the survival to each window's end; with ``first``, also
        the probability of a first purchase after T in each window (alive at T)."""
        r, alpha, s, beta, gp, gd = self.spec_.split(params)
        _, alive, dead, A_T, B_T = dyn.loglik_grad(r, alpha, s, beta, gp, gd, data,
                                                   gradient=False)
        p_alive = 1.0 / (1.0 + np.exp(dead - alive))
        n = len(data.x)
        ksp, ksd = data.zs_p.shape[1], data.zs_d.shape[1]
        a = np.exp(dyn.multipliers(gp[:ksp], gp[ksp:], data.zs_p, data.zt_p, future))
        b = np.exp(dyn.multipliers(gd[:ksd], gd[ksd:], data.zs_d, data.zt_d, future))
        bh = b * future.width
        c2 = beta + B_T[future.row] + dyn.exclusive_cumsum(bh, future.starts, future.row)
        row = future.row
        purchases = dyn.window_purchases(r + data.x[row], alpha + A_T[row], s,
                                         beta + B_T[row], a, b, c2, future.width)
        flat = row * n_windows + window
        per_window = np.bincount(flat, weights=purchases,
                                 minlength=n * n_windows).reshape(n, n_windows)
        hazard = np.bincount(flat, weights=bh, minlength=n * n_windows).reshape(n, n_windows)
        survival = np.exp(-s * (np.log(beta + B_T[:, None] + np.cumsum(hazard, axis=1))
                                - np.log(beta + B_T)[:, None]))
        if not first:
            return p_alive, per_window, survival
        ah = a * future.width
        c1 = alpha + A_T[row] + dyn.exclusive_cumsum(ah, future.starts, row)
        chance = dyn.first_purchase_in_pieces(r + data.x[row], alpha + A_T[row], s,
                                              beta + B_T[row], a, b, c1, c2, future.width)
        per_window_first = np.bincount(flat, weights=chance,
                                       minlength=n * n_windows).reshape(n, n_windows)
        return p_alive, per_window, survival, per_window_first

    def _over_draws(self, rfm, table, times, interval, max_draws, time_unit, what,
                    first=False):
        """``(draws, compute)`` for :meth:`summarise`: ``compute(rows)`` gives, per customer of
        ``rows`` and draw, ``what(p_alive, cumulative purchases, survival)`` (those two
        customers x len(times)). It prepares only the customers asked for, so that the
        summaries, which ask a block at a time, hold one block's paths in memory."""
        self.check_fitted()
        table = self._table(table)
        check_rfm(rfm)
        times = np.asarray(times, dtype=float)
        order = np.argsort(times)
        sorted_times = np.maximum(times[order], 0.0)
        draws = self.parameter_draws(max_draws, interval)
        matrix = np.column_stack([d[0] for d in draws])  # (draws, parameters)

        def compute(rows):
            rows = np.asarray(rows)
            if len(rows) > BLOCK_CUSTOMERS:
                return np.concatenate([compute(rows[i:i + BLOCK_CUSTOMERS])
                                       for i in range(0, len(rows), BLOCK_CUSTOMERS)])
            part = rfm.iloc[rows]
            data, _, origin, unit = self._prepared(part, table, time_unit)
            future, window = self._future(data, table, origin, unit, sorted_times, part.index)
            values = []
            for params in matrix:
                out = self._forecast(params, data, future, window, len(sorted_times), first)
                p_alive, per_window, survival = out[:3]
                cumulative = np.empty_like(per_window)
                cumulative[:, order] = np.cumsum(per_window, axis=1)
                surv = np.empty_like(survival)
                surv[:, order] = survival
                if first:
                    chance = np.empty_like(per_window)
                    chance[:, order] = np.cumsum(out[3], axis=1)
                    values.append(what(p_alive, cumulative, surv, chance))
                else:
                    values.append(what(p_alive, cumulative, surv))
            return np.stack(values, axis=1)

        compute(np.arange(min(len(rfm), 1)))  # the checks, before any work
        return draws, compute

    def _at_horizon(self, rfm, t, name, table, interval, max_draws, return_draws, time_unit):
        """P(alive at T + t) (``name`` "probability_alive") or the expected purchases in
        (T, T + t], summarised over the draws."""
        t = self._check_horizon(t)
        if name == "probability_alive":
            def what(alive, cumulative, survival):
                return alive * survival[:, 0]
        elif name == "probability_any_purchase":
            def what(alive, cumulative, survival, chance):
                return alive * chance[:, 0]
        else:
            def what(alive, cumulative, survival):
                return alive * cumulative[:, 0]
        draws, compute = self._over_draws(rfm, table, [t], interval, max_draws, time_unit, what,
                                          first=name == "probability_any_purchase")
        return self.summarise(compute, len(rfm), draws, interval, name, rfm.index,
                              return_draws=return_draws)

    def probability_alive(self, rfm: pd.DataFrame, t: float = 0.0, *, covariates_over_time=None,
                          interval=None, max_draws=None, return_draws=False, time_unit=None):
        """P(alive at T + t | history, the covariates' paths).

        Parameters
        ----------
        rfm : pandas.DataFrame
            The customers (built as for :meth:`fit`).
        t : float, default 0
            Time after T, in the model's unit (the table must cover it).
        covariates_over_time : CovariatesOverTime, optional
            Default: :attr:`covariates_over_time_`.
        interval, max_draws, return_draws, time_unit
            As every prediction.

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        return self._at_horizon(rfm, t, "probability_alive", covariates_over_time, interval,
                                max_draws, return_draws, time_unit)

    def expected_purchases(self, rfm: pd.DataFrame, t, *, covariates_over_time=None,
                           interval=None, max_draws=None, return_draws=False, time_unit=None):
        """Expected purchases in ``(T, T + t]`` given the history and the covariates' paths
        over it.

        Parameters
        ----------
        rfm : pandas.DataFrame
        t : float or pandas.Timedelta
            The window, in the model's unit (the table must cover it).
        covariates_over_time, interval, max_draws, return_draws, time_unit
            As :meth:`probability_alive`.

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        return self._at_horizon(rfm, t, "expected_purchases", covariates_over_time, interval,
                                max_draws, return_draws, time_unit)

    def probability_any_purchase(self, rfm: pd.DataFrame, t, *, covariates_over_time=None,
                                 interval=None, max_draws=None, return_draws=False,
                                 time_unit=None):
        """P(at least one purchase in ``(T, T + t]`` | history, the covariates' paths): alive
        at T, and the first purchase after T comes before death and before ``T + t``.

        Parameters
        ----------
        rfm : pandas.DataFrame
        t : float or pandas.Timedelta
        covariates_over_time, interval, max_draws, return_draws, time_unit
            As :meth:`probability_alive`.

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        return self._at_horizon(rfm, t, "probability_any_purchase", covariates_over_time,
                                interval, max_draws, return_draws, time_unit)

    def discounted_purchases(self, rfm: pd.DataFrame, times, coefficients, max_draws=None,
                             time_unit=None, interval=None, covariates_over_time=None):
        """``sum_k coefficients[k] E(times[k])`` per customer and draw (``E(t)`` the expected
        purchases in ``(T, T + t]``): what :func:`clvmodels.customer_value` discounts.

        Returns
        -------
        (compute, n_rows, inverse)
            As the other purchase models: ``compute(rows)`` gives ``(rows, draws)``.
        """
        _, compute = self._discounted(rfm, times, coefficients, max_draws, time_unit, interval,
                                      covariates_over_time)
        return compute, len(rfm), np.arange(len(rfm))

    def _discounted(self, rfm, times, coefficients, max_draws, time_unit, interval, table):
        coefficients = np.asarray(coefficients, dtype=float)
        return self._over_draws(rfm, table, times, interval, max_draws, time_unit,
                                lambda alive, cum, surv: linear_predictor(alive[:, None] * cum,
                                                                         coefficients))

    def discounted_expected_transactions(self, rfm: pd.DataFrame, horizon: float,
                                         discount_rate: float, *, covariates_over_time=None,
                                         interval=None, max_draws=None, return_draws=False,
                                         time_unit=None):
        """DECT (CLVTools): the expected purchases in ``(T, T + horizon]``, each discounted
        continuously to T at ``discount_rate`` per time unit (``(1 + d)^-u`` at time u after
        T). Times a margin per purchase, the customer's value over the horizon.

        Parameters
        ----------
        rfm : pandas.DataFrame
        horizon : float
            In the model's unit (the table must cover it).
        discount_rate : float
            Per time unit, >= 0 (CLVTools' ``continuous.discount.factor`` is ``log(1 + d)``).
        covariates_over_time, interval, max_draws, return_draws, time_unit
            As :meth:`probability_alive`.

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        from ..value import check_value_settings, discount_schedule

        check_value_settings(horizon, discount_rate)
        times, coefficients = discount_schedule(horizon, discount_rate, 1.0, "continuous")
        draws, compute = self._discounted(rfm, times, coefficients, max_draws, time_unit,
                                          interval, covariates_over_time)
        return self.summarise(compute, len(rfm), draws, interval,
                              "discounted_expected_transactions", rfm.index,
                              return_draws=return_draws)

    def _check_horizon(self, t):
        """``t`` in the model's unit (a ``pd.Timedelta`` converted); a DataError unless it is
        one number >= 0."""
        if isinstance(t, pd.Timedelta):
            t = t / pd.Timedelta(days=unit_days(self.time_unit_))
        if not (np.ndim(t) == 0 and isinstance(t, (int, float, np.integer, np.floating))
                and not isinstance(t, bool) and np.isfinite(t) and t >= 0):
            raise DataError(f"{given('t', t)}: a time after T in the model's unit, a number "
                            ">= 0 (one for every customer: the table gives each her own path)")
        return float(t)

    def likelihood_ratio_test(self, rfm: pd.DataFrame | None = None, weights=None) -> pd.Series:
        """The likelihood-ratio test of the covariates against Pareto/NBD without them on the
        same customers. The fit does not fit that model (on realistic logs it costs as much as
        this one): give the frame fitted on (and its weights) the first time; the result is
        kept (and saved).

        Parameters
        ----------
        rfm : pandas.DataFrame, optional
            The frame this model was fitted on (its customers are checked by count).
        weights : optional
            As given to :meth:`fit`.

        Returns
        -------
        pandas.Series
            ``statistic``, ``df``, ``p_value``.
        """
        self.check_fitted()
        if getattr(self.spec_, "restricted", None) is None:
            if rfm is None:
                raise DataError("give the RFM frame this model was fitted on: "
                                "model.likelihood_ratio_test(rfm) fits Pareto/NBD without the "
                                "covariates on it (once; the result is kept)")
            w = check_weights(weights, rfm)
            n = len(rfm) if w is None else float(np.sum(w))
            if round(n) != self.n_customers_:
                raise DataError(f"the frame has {n:,.0f} customers and the model was fitted on "
                                f"{self.n_customers_:,}: give the frame it was fitted on")
            plain = ParetoNBD(penalizer=self.penalizer)
            self.spec_.restricted = maximum_likelihood(plain, plain.prepare(rfm, w),
                                                       self.penalizer)
        return super().likelihood_ratio_test()

    # -- state ------------------------------------------------------------------------------------
    def _covariate_state(self) -> dict:
        spec = self.spec_
        restricted = getattr(spec, "restricted", None)
        return {"covariates_over_time": {
            "processes": {p: list(c) for p, c in spec.processes.items()},
            "over_time": list(spec.over_time),
            "encodings": {c: e.to_dict() for c, e in spec.encodings.items()}},
            "restricted_log_likelihood": None if restricted is None else
            restricted.log_likelihood}

    def _restore_covariates(self, data: dict, options: dict | None = None) -> None:
        try:
            state = data["covariates_over_time"]
            processes = {p: tuple(c) for p, c in state["processes"].items()}
            encodings = {c: Encoding.from_dict(e) for c, e in state["encodings"].items()}
            over_time = tuple(state["over_time"])
        except (KeyError, TypeError, AttributeError) as err:
            raise ModelFormatError(f"the {type(self).__name__} model file's covariates are "
                                   f"damaged: {err!r}; refit the model") from err
        if processes != self.covariates or set(encodings) != {
                c for cols in processes.values() for c in cols}:
            raise ModelFormatError(f"the {type(self).__name__} model file's covariates do not "
                                   "match its settings; it was edited: refit the model")
        spec = TimeVaryingSpecification(processes, None, encodings, over_time)
        if data.get("restricted_log_likelihood") is not None:
            from .base import Estimate

            spec.restricted = Estimate(np.array([]), np.array([]),
                                       float(data["restricted_log_likelihood"]), 0.0)
        self.spec_ = spec

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return (f"TimeVaryingParetoNBD(purchase_covariates={self.purchase_covariates}, "
                    f"dropout_covariates={self.dropout_covariates})")
        return super().__repr__()


def simulate_time_varying(n_customers: int, *, r: float = 0.8, alpha: float = 8.0,
                          s: float = 0.6, beta: float = 30.0, purchase_effects=None,
                          dropout_effects=None, weeks: int = 104, start="2023-01-02",
                          acquisition_weeks: int = 26, seed: int = 0,
                          histories: bool = False):
    """A base simulated from :class:`TimeVaryingParetoNBD` in weeks, with a calendar of weekly
    covariates shared by every customer, ``season`` (a yearly wave, ``sin``) and ``campaign``
    (1 in the first two weeks of every quarter), and two static ones, ``income`` (standard
    normal) and ``segment`` (1 for 30 % of the customers).

    Parameters
    ----------
    n_customers : int
    r, alpha, s, beta : float
        Pareto/NBD's parameters, in weeks.
    purchase_effects, dropout_effects : dict, optional
        ``{column: coefficient}`` per raw unit of ``season``, ``campaign``, ``income``,
        ``segment``;
        ``exp(coefficient)`` multiplies the purchase (dropout) rate. Default: season 0.5 and
        campaign 0.4 on purchases, season -0.3 and income 0.2 on dropout.
    weeks : int
        Weeks from ``start`` to the end of the observation.
    start : date-like
        A Monday: the first week; customers are acquired over its first ``acquisition_weeks``.
    seed : int
    histories : bool, default False
        Return the histories in continuous time instead of a log: the RFM frame a log would
        give if no two purchases fell on one day (a log merges them into one occasion, which
        at high rates flattens the purchase effects), and the weekly table.

    Returns
    -------
    (transactions, covariates_over_time, customers, observation_end)
        The log (``customer_id``, ``date``), the weekly table (``period``, ``season``,
        ``campaign``), the customer table (``customer_id``, ``income``, ``segment``) and the
        last day;
        with ``histories``, ``(rfm, covariates_over_time)``.
    """
    rng = np.random.default_rng(seed)
    purchase_effects = ({"season": 0.5, "campaign": 0.4} if purchase_effects is None
                        else dict(purchase_effects))
    dropout_effects = ({"season": -0.3, "income": 0.2} if dropout_effects is None
                       else dict(dropout_effects))
    first_day = int(np.datetime64(pd.Timestamp(start).date(), "D").astype(np.int64))
    week = np.arange(weeks)
    calendar = pd.DataFrame({
        "period": (np.datetime64(first_day, "D") + 7 * week).astype("datetime64[ns]"),
        "season": np.sin(2 * np.pi * week / 52),
        "campaign": ((week % 13) < 2).astype(float)})
    income = rng.normal(size=n_customers)
    segment = (rng.uniform(size=n_customers) < 0.3).astype(float)
    birth = first_day + rng.integers(0, 7 * acquisition_weeks, n_customers)
    end_day = first_day + 7 * weeks - 1
    T = (end_day - birth) / 7.0
    # the pieces of [0, T]: weeks of the calendar
    offset = (birth - first_day) / 7.0  # customer time 0 in calendar weeks
    counts = (np.floor(offset + T - 1e-12) - np.floor(offset) + 1).astype(int)
    row = np.repeat(np.arange(n_customers), counts)
    starts = np.r_[0, np.cumsum(counts)]
    wk = (np.floor(offset)[row] + np.arange(len(row)) - starts[row]).astype(int)
    lo = np.maximum(wk - offset[row], 0.0)
    hi = np.minimum(wk + 1 - offset[row], T[row])

    def eta(effects):
        out = np.zeros(len(row))
        for column, g in effects.items():
            if column in ("income", "segment"):
                out += g * (income if column == "income" else segment)[row]
            elif column in calendar.columns:
                out += g * calendar[column].to_numpy()[wk]
            else:
                raise DataError(f"no simulated covariate {column!r}: effects are on 'season', "
                                "'campaign' (over time), 'income' and 'segment' (static)")
        return np.exp(out)

    a, b = eta(purchase_effects), eta(dropout_effects)
    width = hi - lo
    cum_a, cum_b = np.cumsum(a * width), np.cumsum(b * width)
    before_a = np.r_[0.0, cum_a][starts[:-1]]
    before_b = np.r_[0.0, cum_b][starts[:-1]]
    lam = rng.gamma(r, 1 / alpha, n_customers)
    mu = rng.gamma(s, 1 / beta, n_customers)
    # death: B(tau) = E / mu
    target = before_b + rng.exponential(size=n_customers) / mu
    j = np.searchsorted(cum_b, target)  # the piece where B crosses (or the next customer's)
    dies = (j < starts[1:])
    jj = np.minimum(j, len(row) - 1)
    tau = np.where(dies, lo[jj] + (target - (cum_b[jj] - b[jj] * width[jj])) / b[jj], np.inf)
    # purchases: a unit Poisson process on [0, lambda A(min(tau, T))], mapped back through A
    end_t = np.minimum(tau, T)
    # A at end_t, from the piece that holds it (rows offset so that one search serves all)
    shift = np.arange(n_customers) * (2.0 + T.max())
    k = np.searchsorted(hi + shift[row], end_t + shift)
    k = np.clip(k, starts[:-1], starts[1:] - 1)
    A_end = (cum_a[k] - a[k] * width[k] - before_a) + a[k] * (end_t - lo[k])
    n_buys = rng.poisson(lam * A_end)
    who = np.repeat(np.arange(n_customers), n_buys)
    u = before_a[who] + rng.uniform(0, 1, len(who)) * A_end[who]
    p = np.searchsorted(cum_a, u)
    p = np.clip(p, starts[:-1][who], starts[1:][who] - 1)
    t = lo[p] + (u - (cum_a[p] - a[p] * width[p])) / a[p]
    days = np.r_[birth, birth[who] + np.floor(t * 7).astype(np.int64)]
    ids = np.r_[np.arange(n_customers), who]
    if histories:  # the histories in continuous time: no two purchases merged into a day
        frequency = np.bincount(who, minlength=n_customers)
        recency = np.zeros(n_customers)
        np.maximum.at(recency, who, t)
        frame = pd.DataFrame({
            "frequency": frequency, "recency": recency, "T": T,
            FIRST_PURCHASE: birth.astype("datetime64[D]").astype("datetime64[ns]")},
            index=pd.Index(np.arange(n_customers), name="customer_id"))
        for column in ("season", "campaign"):
            values = calendar[column].to_numpy()[wk[p]]
            frame[AT_PURCHASES + column] = np.bincount(who, weights=values,
                                                       minlength=n_customers)
            frame[HISTORY + column] = np.bincount(
                row, weights=width * calendar[column].to_numpy()[wk], minlength=n_customers)
        frame["income"] = income
        frame["segment"] = segment
        frame.attrs.update(time_unit="W", freq="D",
                           observation_end=str(np.datetime64(end_day, "D")))
        return frame, calendar
    days = np.minimum(days, end_day)
    transactions = pd.DataFrame({"customer_id": ids, "date": days.astype("datetime64[D]")
                                 .astype("datetime64[ns]")}).sort_values(
        ["customer_id", "date"], kind="stable").reset_index(drop=True)
    customers = pd.DataFrame({"customer_id": np.arange(n_customers), "income": income,
                              "segment": segment})
    return (transactions, calendar, customers,
            str(np.datetime64(end_day, "D")))
