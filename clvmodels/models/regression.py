"""Time-invariant covariates on any model specification (Fader & Hardie 2007, "Incorporating
time-invariant covariates into the Pareto/NBD and BG/NBD models").

A model declares which of its parameters each process moves, and in which direction
(``covariate_links``): BG/NBD's purchase process moves ``alpha`` with sign -1 and its dropout
process ``a`` and ``b`` with sign +1, so that for customer ``i`` with covariates ``z_i``

.. math:: \\alpha_i = \\alpha_0 e^{-\\gamma_1' z_i}, \\quad a_i = a_0 e^{\\gamma_2' z_i},
          \\quad b_i = b_0 e^{\\gamma_3' z_i}.

The sign is chosen so that a coefficient reads as a multiplier: ``exp(gamma)`` multiplies the
mean purchase rate ``r / alpha`` (purchase), the mean dropout rate ``s / beta`` (Pareto/NBD
dropout) or the mean spend (Gamma-Gamma, through ``v``). With every coefficient 0 the model is
the model without covariates.

:class:`CovariateSpecification` wraps a model specification with a fitted
:class:`clvmodels.covariates.Design` and is itself a specification (``prepare``,
``loglik_grad``, ``loglik_hessian``, ``initial_params``, ``subsample``, ``default_priors``), so
the engines fit it as they fit any model. The likelihood of the wrapped model is evaluated per
customer (``row_loglik_grad``, the per-customer log-likelihood and its gradient in that
customer's parameters); the log-parameters of a customer are linear in the free parameters
(``log theta_0`` and the coefficients), so the gradient and the Hessian of the total follow by
the chain rule, the Hessian from each customer's k x k Hessian (k differences of the analytic
gradient) however many coefficients there are. Customers with the same history and the same
covariates (categorical covariates) are one row with a count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..interface import name as setting_name
from ..migration import argument_hint
from ..covariates import Design
from .options import FitOptions
from ..arguments import check_count
from ..data import HISTORY_COLUMNS, unique_rows
from .._math import dot, linear_predictor
from ..exceptions import DataError

ROW_BLOCK = 8192  # rows of the per-customer likelihood evaluated at once
HESSIAN_STEP = 1e-6  # forward difference of the per-customer gradient, in log-parameters
HESSIAN_REUSE = 1e-3  # the relative change of the Hessian allowed where it is kept
COEFFICIENT_PRIOR_SD = 1.0  # Normal(0, 1) per standard deviation of a covariate (or per level)


def unique_with_covariates(columns, design: dict | None):
    """The unique rows of per-customer ``columns`` and, with covariates, of each process's
    ``design`` matrix: ``(first, inverse, design)``, ``design`` cut to the unique rows (None
    without covariates). A prediction then runs once per unique (history, covariates)."""
    keys = [] if design is None else [z for m in design.values() for z in m.T]
    first, inverse, _ = unique_rows(*columns, *keys)
    return first, inverse, None if design is None else {p: m[first] for p, m in design.items()}


def same_point(a, b) -> bool:
    """Whether two parameter vectors are one point (up to the rounding of exp(log(x)))."""
    return np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=1e-14, atol=1e-300)


@dataclass
class CovariateData:
    """Prepared data of a model with covariates: the columns the likelihood reads per row
    (unique rows of history and covariates), each process's design matrix, the counts, and the
    wrapped model's own prepared data (for the fit without covariates)."""

    columns: list
    design: dict
    weights: np.ndarray
    base: object
    facts: dict = field(default_factory=dict)
    blocks: list | None = None  # the chain rule's per-row columns, built on first use

    @property
    def n(self) -> float:
        """Customers."""
        return float(self.weights.sum())


class CovariateSpecification:
    """A model specification with covariates (see the module docstring).

    Parameters
    ----------
    model : model specification
        The model without covariates (an instance; its ``covariate_links``,
        ``row_columns`` and ``row_loglik_grad`` are used).
    processes : dict
        ``{process: [column, ...]}``, as given to the model.
    design : clvmodels.covariates.Design, optional
        A fitted design (a loaded model); fitted by :meth:`prepare` otherwise.
    shared : sequence of str, optional
        Covariates whose coefficient is one for both processes (CLVTools' ``names.cov.constr``):
        ``exp(gamma)`` multiplies the purchase rate and the dropout rate alike. Named
        ``shared:<column>``.
    penalty : dict, optional
        ``{process: lambda}``: ``lambda * sum(gamma ** 2)`` over the process's own (not shared)
        coefficients is added to the mean negative log-likelihood (CLVTools' ``reg.lambdas``;
        here per standard deviation of each covariate, so it does not depend on its units).
    """

    def __init__(self, model, processes: dict, design: Design | None = None, shared=(),
                 penalty: dict | None = None):
        self.model = model
        self.processes = {p: tuple(c) for p, c in processes.items() if c}
        self.base_names = tuple(type(model).param_names)
        self.shared = tuple(shared or ())
        self.penalty = dict(penalty or {})
        self.design = design
        if design is not None:
            self._name_parameters()

    # -- naming -------------------------------------------------------------------------------
    def _name_parameters(self) -> None:
        """The parameters: the model's own, then a coefficient per design column of each
        (process, parameter) link, named ``parameter:column``, and one per design column of a
        shared covariate, named ``shared:column``, that both processes' links use."""
        self.links = []  # (base index, sign, process, indices into the free parameters)
        names = list(self.base_names)
        shared_index = {}  # design column of a shared covariate -> its one coefficient
        own = {process: [] for process in self.processes}  # each process's own coefficients
        for process, params in self.model.covariate_links.items():
            if process not in self.processes:
                continue
            columns = self.design.names(process)
            shared_columns = set(self.design.names_of(process, self.shared))
            for param, sign, _ in params:
                index = []
                for c in columns:
                    if c in shared_columns:
                        if c not in shared_index:
                            shared_index[c] = len(names)
                            names.append(f"shared:{c}")
                        index.append(shared_index[c])
                    else:
                        index.append(len(names))
                        own[process].append(len(names))
                        names.append(f"{param}:{c}")
                self.links.append((self.base_names.index(param), sign, process,
                                   np.array(index, dtype=np.int64)))
        self.own_coefficients = {p: np.array(i, dtype=np.int64) for p, i in own.items()}
        repeated = pd.Index(names)[pd.Index(names).duplicated()]
        if len(repeated):  # covariate names cannot hold '[' (covariate_settings): never
            raise DataError(f"two coefficients would be named {repeated[0]!r}: rename the "
                            "covariate columns so that each is unique")
        self.param_names = tuple(names)
        self.positive = np.arange(len(names)) < len(self.base_names)

    # how the maximum-likelihood engine fits it: keep the Hessian while it changes by about
    # 1e-3 relative (standard errors are uncertain by 1 / sqrt(2n) anyway), stop L-BFGS-B
    # early and let up to five Newton steps with the exact Hessian finish
    fit_options = FitOptions(lbfgs_gtol=1e-4, newton_steps=5, hessian_reuse=HESSIAN_REUSE)

    @property
    def numerical_gradient(self) -> bool:
        """Whether the model's per-customer gradient is a difference quotient."""
        return getattr(self.model, "row_numerical_gradient", False)

    @property
    def fit_name(self) -> str:
        """The model's class name, for messages."""
        return f"{type(self.model).__name__} with covariates"

    def covariate_matrices(self, frame: pd.DataFrame) -> dict:
        """``{process: design matrix}`` of ``frame`` (checked and encoded as when fitted)."""
        return {p: self.design.matrix(frame, p) for p in self.processes}

    def coefficient_table(self, params: pd.Series, se: pd.Series | None = None) -> pd.DataFrame:
        """The coefficients with what they mean: process, parameter, covariate, estimate,
        (standard error, z, p-value) and the multiplier ``exp(estimate)``."""
        from scipy import stats

        rows = []
        meaning = {param: what for links in self.model.covariate_links.values()
                   for param, _, what in links}
        for j, sign, process, block in self.links:
            for index in block:
                name = self.param_names[index]
                param, covariate = self.base_names[j], name.split(":", 1)[1]
                value = float(params[name])
                row = {"process": process, "parameter": param, "covariate": covariate,
                       "coefficient": value, "multiplier": float(np.exp(value)),
                       "multiplies": meaning[param], "shared": name.startswith("shared:")}
                if se is not None:
                    row["std_error"] = float(se[name])
                    row["z"] = value / row["std_error"]
                    row["p_value"] = float(2 * stats.norm.sf(abs(row["z"])))
                rows.append(row)
        return pd.DataFrame(rows).set_index(["process", "parameter", "covariate"])

    # -- per-customer parameters ----------------------------------------------------------------
    def row_parameters(self, draws: list, design: dict) -> list:
        """Each customer's parameters, ``theta_0 * exp(sign * z' gamma)``, from parameter draws
        (each a ``(1, D)`` row, the coefficients included) and design matrices ``(n, m)``:
        a list of the model's parameters, each ``(n, D)`` (or ``(1, D)`` where no covariate
        moves it)."""
        params = list(draws[:len(self.base_names)])
        for j, sign, process, block in self.links:
            gamma = np.vstack([draws[i] for i in block])  # (m, D)
            # column by column, not BLAS: a customer's bits do not depend on the other rows,
            # and no BLAS threads to wake (they fight the sampler's processes)
            eta = linear_predictor(design[process], gamma)
            with np.errstate(over="ignore"):
                params[j] = params[j] * np.exp(sign * eta)
        return params

    # -- specification --------------------------------------------------------------------------
    def prepare(self, frame: pd.DataFrame, weights=None) -> CovariateData:
        """Check the frame as the model does, fit (or apply) the covariates' encoding, and keep
        the unique rows of (history, covariates) with their counts.

        Parameters
        ----------
        frame : pandas.DataFrame
            The customers, with the covariate columns.
        weights : numpy.ndarray, optional

        Returns
        -------
        CovariateData
        """
        base = self.model.prepare(frame, weights)
        columns, used = self.model.row_columns(frame)
        if weights is None and hasattr(self.model, "row_weights"):
            weights = self.model.row_weights(frame)  # a cohort table's own counts
        w = np.ones(len(frame)) if weights is None else np.asarray(weights, dtype=np.float64)
        self.design = Design.fit(frame, self.processes, None if weights is None else w)
        self._name_parameters()
        design = self.covariate_matrices(frame)
        if used is not None:  # the encoding is the frame's; the rows used must identify it
            columns = [c[used] for c in columns]
            design = {p: z[used] for p, z in design.items()}
            w = w[used]
        for process, matrix in design.items():
            self.design.check_rank(matrix, process)
        if self.design.compressible():
            stacked = np.hstack([np.column_stack(columns)] + list(design.values()))
            first, inverse, _ = unique_rows(*stacked.T)
            counts = np.bincount(inverse, weights=w, minlength=len(first))
        else:  # a continuous covariate makes (nearly) every row distinct: no use sorting
            first, counts = np.arange(len(w)), w
        keep = counts > 0
        first, counts = first[keep], counts[keep]
        return CovariateData([c[first] for c in columns], {p: z[first] for p, z in design.items()},
                             counts, base, dict(getattr(base, "facts", {})))

    def subsample(self, data: CovariateData, fraction: float, rng) -> CovariateData:
        """A random share of the customers (binomial thinning of the counts)."""
        kept = rng.binomial(np.round(data.weights).astype(np.int64), fraction).astype(float)
        rows = kept > 0
        return CovariateData([c[rows] for c in data.columns],
                             {p: z[rows] for p, z in data.design.items()}, kept[rows], None)

    def initial_params(self, data: CovariateData) -> np.ndarray:
        """The estimate without covariates (``restricted``, set by the engine: fitted on the
        compressed histories, seconds on a million customers, and needed by the
        likelihood-ratio test anyway) and coefficients 0."""
        restricted = getattr(self, "restricted", None)
        start = (restricted.params if restricted is not None
                 else self.model.initial_params(data.base))
        return np.concatenate([start, np.zeros(len(self.param_names) - len(self.base_names))])

    def _thetas(self, params: np.ndarray, data: CovariateData) -> list:
        draws = [np.array([[v]]) for v in params]
        return [t[:, 0] if t.shape[0] > 1 else t[0, 0]
                for t in self.row_parameters(draws, data.design)]

    def _row_gradients(self, thetas, data):
        """Per-row log-likelihood and gradient in each row's log-parameters (``(n, k)``), a
        block of rows at a time (the temporaries stay in cache: 30 % faster)."""
        n = len(data.weights)
        ll, g_u = np.empty(n), np.empty((n, len(thetas)))
        for start in range(0, n, ROW_BLOCK):
            rows = slice(start, start + ROW_BLOCK)
            part = [t[rows] if np.ndim(t) else t for t in thetas]
            ll[rows], grads = self.model.row_loglik_grad(part, [c[rows] for c in data.columns])
            for j, (g, t) in enumerate(zip(grads, part)):
                g_u[rows, j] = g * t
        return ll, g_u

    def _blocks(self, data: CovariateData):
        """For each model parameter: the free parameters that move its log (its own index,
        then its coefficients) and the matching per-row columns (1 and sign * z); built once
        per prepared data."""
        if getattr(data, "blocks", None) is not None:
            return data.blocks
        blocks = []
        for j in range(len(self.base_names)):
            index, columns = [j], [None]
            for k, sign, process, block in self.links:
                if k == j:
                    index += list(block)
                    columns.append(np.ascontiguousarray(sign * data.design[process]))
            blocks.append((np.array(index), columns))
        data.blocks = blocks
        return blocks

    def loglik_grad(self, params, data: CovariateData):
        """Total log-likelihood and its gradient in the natural parameters (``theta_0``, and the
        coefficients).

        Parameters
        ----------
        params : numpy.ndarray
        data : CovariateData

        Returns
        -------
        (float, numpy.ndarray)
        """
        last = self._cached(params, data)  # the engine often asks twice for one point
        if last is not None:
            return last[0]
        ll, g_u = self._row_gradients(self._thetas(params, data), data)
        w = data.weights
        gradient = np.zeros(len(params))
        weighted = np.ascontiguousarray((g_u * w[:, None]).T)  # (k, rows)
        for j, (index, columns) in enumerate(self._blocks(data)):
            gradient[j] = weighted[j].sum() / params[j]
            at = 1
            for z in columns[1:]:  # einsum: no BLAS threads to wake (clvmodels._math.dot)
                # a shared coefficient moves two parameters: its terms add up
                gradient[index[at:at + z.shape[1]]] += np.einsum("ij,i->j", z, weighted[j])
                at += z.shape[1]
        total = dot(w, ll)
        self._last = (data, np.array(params, dtype=float), (total, gradient.copy()), g_u)
        return total, gradient

    def _cached(self, params, data):
        """``(value and gradient, per-row gradients)`` of the last point if ``params`` is it."""
        last = getattr(self, "_last", None)
        if last is not None and last[0] is data and same_point(last[1], params):
            return last[2:]
        return None

    def loglik_hessian(self, params, data: CovariateData) -> np.ndarray:
        """Hessian of the total log-likelihood in the natural parameters: each customer's
        Hessian in its own log-parameters (forward differences of the analytic gradient, one
        per model parameter), carried to the free parameters by the chain rule.

        Parameters
        ----------
        params : numpy.ndarray
        data : CovariateData

        Returns
        -------
        numpy.ndarray
        """
        thetas = self._thetas(params, data)
        cached = self._cached(params, data)
        if cached is not None:
            g_u = cached[1]  # the gradient's own pass at this point
        else:
            g_u = self._row_gradients(thetas, data)[1]
        k = len(thetas)
        n = len(g_u)
        h_u = np.empty((n, k, k))
        for j in range(k):
            moved = list(thetas)
            moved[j] = thetas[j] * np.exp(HESSIAN_STEP)
            h_u[:, :, j] = (self._row_gradients(moved, data)[1] - g_u) / HESSIAN_STEP
        h_u = (h_u + h_u.transpose(0, 2, 1)) / 2
        w = data.weights
        size = len(params)
        hessian = np.zeros((size, size))
        blocks = self._blocks(data)
        designs = [np.column_stack([np.ones(n)] + columns[1:]) for _, columns in blocks]
        for j, (index_j, _) in enumerate(blocks):
            for l, (index_l, _) in enumerate(blocks):
                hessian[np.ix_(index_j, index_l)] += designs[j].T @ (
                    designs[l] * (w * h_u[:, j, l])[:, None])
        # from log(theta_0) to theta_0 for the model's own parameters
        scale = np.where(self.positive, 1.0 / np.where(self.positive, params, 1.0), 1.0)
        hessian = hessian * np.outer(scale, scale)
        base = len(self.base_names)
        g_base = (g_u * w[:, None]).sum(axis=0)
        hessian[np.arange(base), np.arange(base)] -= g_base / params[:base] ** 2
        return hessian

    def default_priors(self, data: CovariateData) -> dict:
        """The model's priors for its own parameters (log-normal) and ``Normal(0, 1)`` for each
        coefficient (of a standardised covariate or a level against the reference)."""
        priors = self.model.default_priors(data.base)
        priors.update({name: (0.0, COEFFICIENT_PRIOR_SD)
                       for name in self.param_names[len(self.base_names):]})
        return priors

    def coefficient_penalty(self, params) -> tuple[float, np.ndarray, np.ndarray]:
        """The L2 penalty per process on its own coefficients, in the units of the mean
        negative log-likelihood: its value, gradient and (diagonal) Hessian in the natural
        parameters; zeros without ``penalty``."""
        params = np.asarray(params, dtype=float)
        scale = np.zeros(len(params))
        for process, lam in self.penalty.items():
            scale[self.own_coefficients.get(process, [])] = lam
        return float(scale @ params ** 2), 2 * scale * params, 2 * scale

    def check_estimate(self, params: pd.Series) -> None:
        """The model's own checks on its parameters (at the reference customer)."""
        self.model.check_estimate(params[list(self.base_names)])


def covariate_options(model_class, covariates: dict, shared, penalty) -> tuple[tuple, dict]:
    """``shared_covariates=`` and ``covariate_penalty=`` checked against the model and its
    ``<process>_covariates``: ``(shared columns, {process: lambda})``; a DataError names the
    argument, the rule and the fix."""
    links = getattr(model_class, "covariate_links", {})
    shared = () if shared is None else ((shared,) if isinstance(shared, str) else tuple(shared))
    if shared:
        several = [p for p, params in links.items() if len(params) != 1]
        if len(links) != 2 or several:
            raise DataError(
                f"{setting_name('shared_covariates')}: {model_class.__name__}'s processes move "
                f"{ {p: [q for q, _, _ in params] for p, params in links.items()} }, so no one "
                "coefficient can act on both; a shared coefficient is offered where the purchase "
                "and the dropout process each move one parameter (Pareto/NBD)")
        for column in shared:
            missing = [p for p in links if column not in covariates.get(p, ())]
            if missing:
                raise DataError(f"{setting_name('shared_covariates')} lists {column!r}, which is not "
                                f"among the {setting_name(missing[0] + '_covariates')}: a shared "
                                "covariate must be given to both processes")
    if penalty is None:
        return shared, {}
    if not isinstance(penalty, dict):
        raise DataError(f"{setting_name('covariate_penalty')} must be a dict {{process: lambda}}, such "
                        f"as {{'purchase': 0.1}}, not {penalty!r}")
    checked = {}
    for process, lam in penalty.items():
        if process not in covariates:
            raise DataError(f"{setting_name('covariate_penalty')} names {process!r}, which has no "
                            f"covariates here; the processes with covariates are "
                            f"{sorted(covariates)}")
        if (isinstance(lam, bool) or not isinstance(lam, (int, float, np.integer, np.floating))
                or not np.isfinite(lam) or lam < 0):
            raise DataError(f"{setting_name('covariate_penalty')} of {process!r} must be a number >= 0, "
                            f"not {lam!r}")
        checked[process] = float(lam)
    return shared, checked


def covariate_settings(model_class, given: dict) -> dict:
    """``{process: (column, ...)}`` from keyword arguments ``<process>_covariates=[...]``; a
    TypeError names the arguments this model takes."""
    links = getattr(model_class, "covariate_links", {})
    allowed = {f"{p}_covariates": p for p in links}
    unknown = [k for k in given if k not in allowed]
    if unknown:
        raise TypeError(f"{model_class.__name__} got an unexpected argument {unknown[0]!r}"
                        + argument_hint(unknown[0])
                        + (f"; its covariate arguments are {sorted(allowed)}" if allowed else
                           "; it takes no covariates"))
    processes = {}
    for key, columns in given.items():
        if columns is None:
            continue
        if isinstance(columns, str):
            columns = [columns]
        columns = list(columns)
        if len(set(columns)) != len(columns):
            raise DataError(f"{key} lists a column twice: {columns}")
        own = set(getattr(model_class, "columns", ())) | set(HISTORY_COLUMNS)
        for column in columns:
            if not isinstance(column, str) or not column:
                raise DataError(f"{key} must list column names, not {column!r}")
            if column in own:
                leak = ("the holdout, what the model is to predict (it would leak the future "
                        "into the fit)" if column.endswith("_holdout") else
                        "the customer's own purchase history, which the model already reads")
                raise DataError(f"{key} lists {column!r}, which is {leak}: a covariate "
                                "describes the customer (channel, age, ...); remove it")
            if "[" in column or "]" in column:
                raise DataError(f"{key} lists {column!r}: covariate names cannot contain '[' or "
                                "']', which name the levels of a categorical covariate "
                                "(channel[search]), so two coefficients could share a name; "
                                "rename the column")
        processes[allowed[key]] = tuple(columns)
    return processes


def simulation_parameters(links: dict, params: dict, customers: pd.DataFrame | None,
                          coefficients: dict | None) -> dict:
    """The true parameters of each simulated customer: ``params`` moved by ``coefficients``
    (``{parameter: {design column: value}}``, the names and signs of a model's
    ``covariate_links``, on the scale a model fitted on ``customers`` reports: per standard
    deviation of a numeric column of ``customers``, per level against the reference).

    Parameters
    ----------
    links : dict
        The model's ``covariate_links``.
    params : dict
        The parameters without covariates (the reference customer's, at the covariates'
        means).
    customers : pandas.DataFrame or None
        One row per simulated customer.
    coefficients : dict or None

    Returns
    -------
    dict
        ``params`` with arrays (one value per customer) for the moved parameters.
    """
    if not coefficients:
        return dict(params)
    if customers is None:
        raise DataError("coefficients= need customers=, the covariates of each customer")
    signs = {param: sign for group in links.values() for param, sign, _ in group}
    design = Design.fit(customers, {"simulated": tuple(customers.columns)})
    names = design.names("simulated")
    z = design.matrix(customers, "simulated")
    out = dict(params)
    for param, values in coefficients.items():
        if param not in signs:
            raise DataError(f"coefficients for {param!r}: covariates move {sorted(signs)} of "
                            "this model")
        gamma = np.zeros(len(names))
        for name, value in values.items():
            if name not in names:
                raise DataError(f"coefficient of {name!r}: the customers' design columns are "
                                f"{names}")
            gamma[names.index(name)] = float(value)
        out[param] = params[param] * np.exp(signs[param] * linear_predictor(z, gamma))
    return out


def simulate_customers(n_customers: int, seed=None) -> pd.DataFrame:
    """A customer table to simulate with: ``channel`` (four levels, ``email`` the reference,
    shares 40/30/20/10 %), ``age`` (Normal(40, 12)) and ``first_order`` (log-normal, the value
    of the first order), indexed by customer id ``0..n-1``.

    Parameters
    ----------
    n_customers : int
    seed : int, optional

    Returns
    -------
    pandas.DataFrame
    """
    rng = np.random.default_rng(seed)
    n = check_count(n_customers, "n_customers", low=1)
    channel = rng.choice(["email", "search", "social", "store"], n, p=[0.4, 0.3, 0.2, 0.1])
    return pd.DataFrame({"channel": pd.Categorical(channel, categories=["email", "search",
                                                                         "social", "store"]),
                         "age": rng.normal(40.0, 12.0, n),
                         "first_order": np.exp(rng.normal(3.0, 0.6, n))},
                        index=pd.RangeIndex(n, name="customer_id"))
