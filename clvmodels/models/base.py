"""The model contract, what every fitted model shares, and the maximum-likelihood engine.

A model is specified once, as a class that defines (see ``docs/adding-a-model.md``):

``name``, ``kind``, ``param_names``, ``columns``
    Its registry name (``"bgnbd"``), whether it is a ``"purchases"`` or a ``"spend"`` model,
    the names of its parameters (as in the paper), and the RFM columns it reads.
``prepare(rfm, weights=None)``
    The typed object its likelihood needs (unique rows with counts, or sufficient statistics),
    with ``n`` (customers) and ``facts`` (what to record on the fitted model).
``subsample(data, fraction, rng)``, ``initial_params(data)``
    For the warm start and the first guess of the maximum-likelihood engine.
``loglik_grad(params, data)``
    The total log-likelihood and its gradient, numpy (the formulas live in ``clvmodels._math``).
``loglik_tensor(params, data)``
    The same total as a PyTensor expression of a dict of parameters (the Bayesian engine).
``default_priors(data)``
    ``{name: (mu, sigma)}`` of ``log(theta) ~ Normal(mu, sigma)``.
``check_estimate(params)``
    Warnings about an estimate that limits what it predicts (optional).
predictions
    Public methods written once as functions of parameter *draws*, which an engine provides
    through ``parameter_draws(max_draws)``: each parameter a ``(1, D)`` row vector.

The engines are :class:`MaximumLikelihoodModel` (here; one draw, the estimate) and
:class:`clvmodels.models.bayesian.BayesianModel` (a posterior). A concrete model is the
specification class combined with an engine: ``class BetaGeo(BetaGeoModel,
MaximumLikelihoodModel)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..data import check_rfm, rfm_time_unit
from ..draws import ParameterDraws, summarise_draws
from ..exceptions import ConvergenceError, DataError, ModelFormatError, NotFittedError
from ..files import write_json_atomic
from ..arguments import align, check_draw_options, check_mass
from ..interface import arg, given, show
from ..migration import method_hint
from ..covariates import Design
from .options import FitOptions
from .regression import CovariateSpecification, covariate_options, covariate_settings
from ..units import DAYS_PER_UNIT, UNIT_NAMES, days_per_unit

DEFAULT_FIT_OPTIONS = FitOptions()
WARM_START_CUSTOMERS = 20_000  # larger fits start from the estimate on this many customers
MAX_LOG_SD = 10.0  # an estimate whose log is this uncertain is not identified by the data
FORMAT = "clvmodels.model"
FORMAT_VERSION = 1


MAX_COEFFICIENT = 50.0  # |coefficient| of a standardised covariate: exp(50) is no effect
MAX_LOG_PARAMETER = 230.0  # a positive parameter within exp(+-230) (1e+-100)


def invalid_parameters(names, draws: np.ndarray, positive=None) -> str | None:
    """The first parameter with a value (in any draw: rows) that is not finite or not > 0
    (only finite for those not ``positive``: covariate coefficients), or so extreme that no
    fit gives it (a positive parameter outside 1e-100..1e100; a coefficient of a
    standardised covariate beyond +-50, a multiplier of exp(50)): a file edited by hand."""
    positive = np.ones(len(names), dtype=bool) if positive is None else positive
    for j, name in enumerate(names):
        values = draws[:, j]
        with np.errstate(all="ignore"):
            if positive[j]:
                bad = ~(np.isfinite(values) & (values > 0)
                        & (np.abs(np.log(np.where(values > 0, values, 1.0)))
                           <= MAX_LOG_PARAMETER))
            else:
                bad = ~(np.isfinite(values) & (np.abs(values) <= MAX_COEFFICIENT))
        if bad.any():
            rule = ("a finite number > 0 between 1e-100 and 1e100" if positive[j] else
                    f"a finite number from -{MAX_COEFFICIENT:g} to {MAX_COEFFICIENT:g}")
            return (f"parameter {name} is {show(values[bad][0])} (it must be {rule})"
                    + (f" in {int(bad.sum())} of {len(values)} draws" if len(values) > 1 else ""))
    return None


def frame_time_unit(rfm: pd.DataFrame, time_unit: str | None = None) -> str | None:
    """The unit of a frame's recency and T: the one it records, or ``time_unit`` for a frame
    that records none (None where neither says); a DataError for an unknown ``time_unit`` or
    one that contradicts the frame's own."""
    recorded = rfm_time_unit(rfm) if isinstance(rfm, pd.DataFrame) else None
    if time_unit is not None:
        if time_unit not in DAYS_PER_UNIT:
            raise DataError(f"{given('time_unit', time_unit)} is not a time unit: use one of "
                            f"{list(DAYS_PER_UNIT)}")
        if recorded not in (None, time_unit):
            raise DataError(f"the frame records time unit {recorded!r} but "
                            f"{given('time_unit', time_unit)} says otherwise")
    return recorded or time_unit


def check_weights(weights, rfm: pd.DataFrame) -> np.ndarray | None:
    """``weights`` as float64 in the order of ``rfm``'s rows, one finite number >= 0 per
    customer (a Series aligned by its labels, an array by position); None stays None."""
    if weights is None:
        return None
    if isinstance(weights, pd.DataFrame):
        raise DataError(f"{arg('weights')} must be one number per customer (a Series or an "
                        "array), not a DataFrame: pick its column")
    weights = align(weights, rfm.index, "weights", what="weight")
    try:
        weights = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"{arg('weights')} must hold numbers (customers per row), not "
                        f"{show(np.asarray(weights, dtype=object)[0])}") from err
    bad = ~(np.isfinite(weights) & (weights >= 0))
    if bad.any():
        raise DataError(f"{arg('weights')} must be finite numbers >= 0 (customers per row): "
                        f"{int(bad.sum()):,} are not (first: {show(weights[bad][0])} for "
                        f"customer {show(rfm.index[bad][0])})")
    return weights


ARRAYS_HINT = (": fit takes one frame with a row per customer, where lifetimes' fit(frequency, "
               "recency, T) takes arrays: fit(pd.DataFrame({'frequency': f, 'recency': r, 'T': "
               "T}), time_unit='W'), or run lifetimes code on clvmodels.compat.lifetimes")


def check_no_arrays(model, arrays) -> None:
    """A TypeError for lifetimes' habit ``fit(frequency, recency, T)``, naming the native way."""
    if arrays:
        raise TypeError(f"{type(model).__name__}.fit got {2 + len(arrays)} positional "
                        f"arguments{ARRAYS_HINT}")


COVARIATE_OPTIONS = ("shared_covariates", "covariate_penalty")  # checked against covariates


class FittedModel:
    """What every model shares: the not-fitted error, frame checks, horizons, draws, saving."""

    def __getattr__(self, name):
        """Only for names that are missing: a peer's method name gets the native one."""
        hint = method_hint(name) if not name.startswith("_") else None
        if hint:
            raise AttributeError(f"{type(self).__name__} has no {name!r}: {hint}")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    _fitted_attribute = "params_"
    time_unit_: str | None = None

    covariates: dict = {}  # {process: (column, ...)}: none unless given

    def _set_covariates(self, given: dict) -> None:
        """Record ``<process>_covariates=[...]`` arguments (a TypeError for others)."""
        self.covariates = covariate_settings(type(self), given)

    shared_covariates: tuple = ()

    def _covariate_spec(self, design=None):
        """The model wrapped in a :class:`clvmodels.models.regression.CovariateSpecification`
        with its covariates, shared coefficients and penalties."""
        shared, penalty = covariate_options(type(self), self.covariates, self.shared_covariates,
                                            getattr(self, "covariate_penalty", None))
        return CovariateSpecification(self, self.covariates, design, shared=shared,
                                      penalty=penalty)

    def _specification(self):
        """What the engines fit: the model itself, or, with covariates, the model wrapped in a
        :class:`clvmodels.models.regression.CovariateSpecification`."""
        if not self.covariates:
            return self
        return self._covariate_spec()

    def _fitted_specification(self, spec) -> None:
        """Record what fitting ``spec`` decided: with covariates, their encoding, the names of
        the coefficients and the fit without them."""
        if spec is not self:
            self.spec_ = spec

    @property
    def parameter_names_(self) -> tuple[str, ...]:
        """The names of the fitted parameters: the model's own (``param_names``, which the
        specification declares), then, with covariates, a coefficient per design column
        (``parameter:column``). Covariates wrap the specification; they do not change the
        model's ``param_names``."""
        spec = getattr(self, "spec_", None)
        return tuple(type(self).param_names if spec is None else spec.param_names)

    def _positive_parameters(self) -> np.ndarray:
        """Which of ``param_names`` are > 0: the model's own (all, unless it declares
        ``positive``), not the covariate coefficients."""
        spec = getattr(self, "spec_", None)
        if spec is not None:
            return spec.positive
        own = getattr(type(self), "positive", None)
        return (np.ones(len(self.parameter_names_), dtype=bool) if own is None
                else np.asarray(own, dtype=bool))

    def _covariate_design(self, frame: pd.DataFrame) -> dict | None:
        """``{process: design matrix}`` of the customers of ``frame`` (None without covariates):
        their covariate columns checked and encoded as when the model was fitted."""
        spec = getattr(self, "spec_", None)
        return None if spec is None else spec.covariate_matrices(frame)

    def customer_parameters(self, draws: list, design: dict | None) -> list:
        """Each customer's parameter draws: ``draws`` themselves without covariates, else
        ``(rows, D)`` arrays for the rows of ``design`` (:meth:`covariate_design`); a
        DataError where covariates far outside those fitted on push a parameter to 0 or
        infinity (a unit or coding error, not a prediction)."""
        if design is None:
            return draws
        params = draws.like(self.spec_.row_parameters(draws, design))
        for name, values in zip(type(self).param_names, params):
            bad = ~(np.isfinite(values) & (values > 0))
            if bad.any():
                largest = max((float(np.abs(m).max()) for m in design.values() if m.size),
                              default=0.0)
                raise DataError(
                    f"the covariates of {int(bad.any(axis=1).sum()):,} customer(s) put {name} "
                    f"at {show(values[bad][0])}, outside what a prediction can use: the largest "
                    f"encoded covariate is {largest:.3g} (standard deviations of the frame the "
                    "model was fitted on); check those columns for a unit or coding error")
        return params

    def _new_customer_parameters(self, draws: list, customers: pd.DataFrame | None) -> list:
        """Parameter draws of customers just acquired: ``draws`` where the model has no
        covariates and no ``customers`` are given, else one row per customer of
        ``customers`` (their covariate columns, encoded as when fitted)."""
        spec = getattr(self, "spec_", None)
        if customers is None:
            if spec is not None:
                raise DataError(
                    f"this {type(self).__name__} has covariates: give customers= a DataFrame "
                    f"of the new customers' {spec.design.columns()}, one row each")
            return draws
        if not isinstance(customers, pd.DataFrame):
            raise DataError("customers= must be a DataFrame of covariate columns, one row per "
                            "new customer")
        if spec is None:
            return draws.like(np.repeat(p, len(customers), axis=0) for p in draws)
        return self.customer_parameters(draws, spec.covariate_matrices(customers))

    @property
    def coefficients_(self) -> pd.DataFrame:
        """The covariate coefficients: process, parameter, covariate, the coefficient, its
        multiplier ``exp(coefficient)`` (of the purchase rate, the dropout rate or the spend:
        see :mod:`clvmodels.models.regression`), with standard errors, z and p-values from a
        maximum-likelihood fit (a Bayesian fit: the posterior means; see ``summary()``)."""
        self.check_fitted()
        spec = getattr(self, "spec_", None)
        if spec is None:
            raise DataError(f"this {type(self).__name__} has no covariates")
        se = self.standard_errors_ if hasattr(self, "covariance_") else None
        return spec.coefficient_table(self.params_, se)

    @classmethod
    def constructor_setting_names(cls) -> tuple[str, ...]:
        """The named arguments of the constructor (not ``**covariates``): what a model file
        keeps to build the model again, as scikit-learn's ``get_params``."""
        import inspect

        names = []
        for klass in cls.__mro__:  # a constructor that passes **settings on: its parent's too
            if "__init__" not in vars(klass) or klass is object:
                continue
            parameters = inspect.signature(klass.__init__).parameters.values()
            names += [p.name for p in parameters if p.name != "self" and p.name not in names
                      and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
            if not any(p.kind == p.VAR_KEYWORD for p in parameters):
                break
        return tuple(names)

    def constructor_settings(self) -> dict:
        """``{argument: value}`` of :meth:`constructor_setting_names`, as plain data."""
        return {name: getattr(self, name) for name in self.constructor_setting_names()}

    def _fit_time_unit(self, rfm: pd.DataFrame, time_unit: str | None = None) -> str | None:
        """The time unit a fit on ``rfm`` records: the frame's own, or ``time_unit`` for a frame
        that records none. A purchase model in continuous time refuses a frame with neither
        (its parameters would be in an unknown unit, and every horizon ambiguous); a model of
        discrete opportunities or periods (BG/BB, the sBG) and a spend model need none.

        Parameters
        ----------
        rfm : pandas.DataFrame
        time_unit : str, optional

        Returns
        -------
        str or None
        """
        unit = frame_time_unit(rfm, time_unit)
        if unit is None and self.kind == "purchases" and not getattr(self, "discrete", False):
            raise DataError(
                "this frame records no time unit (rfm.attrs['time_unit'] is gone, as after a "
                "merge or a CSV round trip, or the frame was built by hand), so the estimate "
                f"would be in unknown units: give {given('time_unit', 'W')} (or 'D', 'M', ...) "
                "for the unit recency and T are in")
        return unit

    def check_fitted(self) -> None:
        """A NotFittedError unless the model is fitted (or loaded).

        Raises
        ------
        NotFittedError
        """
        if not hasattr(self, self._fitted_attribute):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call .fit(rfm) first, "
                "or load a saved model with clvmodels.load(path)"
            )

    def checked_frame(self, rfm: pd.DataFrame, columns, time_unit: str | None = None,
                      timed: bool = True) -> pd.DataFrame:
        """Check a frame for prediction: a fitted model, valid columns, and (``timed``) the
        model's time unit, recorded by the frame or given as ``time_unit``. A frame that records
        no unit (after a merge, a CSV round trip) is refused rather than read in a unit it may
        not be in.

        Parameters
        ----------
        rfm : pandas.DataFrame
        columns : sequence of str
            The columns the prediction reads.
        time_unit : str, optional
            The unit of a frame that records none.
        timed : bool
            Whether the prediction depends on the unit (a spend model's does not).

        Returns
        -------
        pandas.DataFrame
            ``rfm`` itself.
        """
        self.check_fitted()
        check_rfm(rfm, columns)
        if not timed or self.time_unit_ is None:
            return rfm
        unit = frame_time_unit(rfm, time_unit)
        if unit is None:
            raise DataError(
                f"this frame records no time unit (rfm.attrs['time_unit'] is gone, as after a "
                f"merge or a CSV round trip) and the model was fitted in "
                f"{UNIT_NAMES[self.time_unit_]}: give {given('time_unit', self.time_unit_)} if "
                "recency and T are in that unit"
            )
        if unit != self.time_unit_:
            raise DataError(
                f"the model was fitted in {UNIT_NAMES[self.time_unit_]} but this frame is in "
                f"{UNIT_NAMES.get(unit, unit)}; rebuild the frame with "
                f"{given('time_unit', self.time_unit_)}"
            )
        return rfm

    def horizon(self, t, rfm: pd.DataFrame | None = None) -> np.ndarray:
        """A horizon in the model's time unit: a number, an array, a Series aligned to ``rfm``
        by customer, or a ``pd.Timedelta`` (converted with the model's unit).

        Parameters
        ----------
        t : float, array-like, pandas.Series or pandas.Timedelta
        rfm : pandas.DataFrame, optional
            The customers a per-customer horizon is aligned to.

        Returns
        -------
        numpy.ndarray
            The horizon(s) as numbers in the model's unit.
        """
        if isinstance(t, (list, tuple)) or (isinstance(t, np.ndarray) and t.dtype.kind in "Om"):
            t = [float(self.horizon(v)) for v in np.asarray(t, dtype=object).ravel()]
        if isinstance(t, (pd.Timedelta, np.timedelta64)):
            if self.time_unit_ is None:
                raise DataError("this model has no time unit, so give the horizon as a number")
            t = pd.Timedelta(t) / pd.Timedelta(days=days_per_unit(self.time_unit_))
        if isinstance(t, pd.DataFrame):
            raise DataError("the horizon t must be a number, a Series (one per customer) or a "
                            "pd.Timedelta, not a DataFrame: pick its column")
        if isinstance(t, pd.Series):
            if rfm is None:
                raise DataError("a horizon per customer (a Series) needs the customers: this "
                                "prediction takes one horizon for all, a number")
            t = align(t, rfm.index, "t", what="horizon")
        if isinstance(t, pd.Series) and t.dtype.kind == "m":
            if self.time_unit_ is None:
                raise DataError("this model has no time unit, so give the horizon as a number")
            t = t / pd.Timedelta(days=days_per_unit(self.time_unit_))
        raw = np.asarray(t)
        if raw.dtype.kind not in "iuf":  # text ("3"), true/false, objects: not a horizon
            raise DataError(f"the horizon {arg('t')}{show(t) if raw.ndim == 0 else '...'} is not "
                            "a number, a Series of numbers or a pd.Timedelta")
        value = raw.astype(np.float64)
        if not np.all(np.isfinite(value)) or np.any(value < 0):
            bad = value[~(np.isfinite(value) & (value >= 0))].ravel()[0]
            unit = UNIT_NAMES.get(self.time_unit_, "model time units")
            raise DataError(f"the horizon t must be finite and >= 0 (in {unit}), not {show(bad)}")
        if rfm is not None and value.ndim == 1 and len(value) != len(rfm):
            raise DataError(f"the horizon has {len(value)} values for {len(rfm)} customers")
        return value

    # -- predictions over the draws an engine provides (``parameter_draws``) -------------------
    def summarise(self, compute, n_rows: int, draws, interval, name, index, *,
                  expand=None, return_draws: bool = False):
        """:func:`clvmodels.draws.summarise_draws` of ``compute`` over ``draws`` (the
        :class:`~clvmodels.draws.ParameterDraws` it evaluates: their number and which is the
        point), refusing an interval from a single draw.

        Parameters
        ----------
        compute, n_rows, interval, name, index, expand, return_draws
            As :func:`clvmodels.draws.summarise_draws`.
        draws : ParameterDraws

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        if interval is not None and draws.n_draws == 1:
            raise DataError(f"an interval needs parameter draws, and this {type(self).__name__} "
                            "has one: pass interval= to the prediction that draws them")
        return summarise_draws(compute, n_rows, draws.n_draws, interval, name, index,
                               expand=expand, return_draws=return_draws, center=draws.center)

    def check_estimate(self, params: pd.Series) -> None:
        """Warnings about an estimate that is valid but limits what it predicts (none here).

        Parameters
        ----------
        params : pandas.Series
        """

    def save(self, path) -> None:
        """Save the fitted model as format-versioned plain data (JSON, and a Bayesian model's
        posterior in a netCDF file beside it); read it back with :func:`clvmodels.load`.

        Parameters
        ----------
        path : str or path-like
            The JSON file to write (atomically).
        """
        write_json_atomic(self.to_dict(), path, "path")

    def _state_header(self) -> dict:
        """The fields every saved model starts with."""
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "model": type(self).__name__,
                "time_unit": self.time_unit_, "n_customers": self.n_customers_,
                **{fact: getattr(self, fact + "_") for fact in self.facts
                   if hasattr(self, fact + "_")}}

    facts: tuple[str, ...] = ()  # what fitting records beyond the parameters, saved with them

    def _covariate_state(self) -> dict:
        """What a model file keeps of the covariates: their encoding and the log-likelihood of
        the fit without them (none without covariates)."""
        spec = getattr(self, "spec_", None)
        if spec is None:
            return {}
        restricted = getattr(spec, "restricted", None)
        return {"covariates": spec.design.to_dict(), "restricted_log_likelihood":
                None if restricted is None else restricted.log_likelihood}

    def _restore_covariates(self, data: dict, options: dict | None = None) -> None:
        """Set what :meth:`covariate_state` wrote (nothing for a model without covariates),
        and the covariate ``options`` of the file's settings (shared coefficients, penalties),
        which need the covariates to be checked."""
        if "covariates" not in data:
            if any((options or {}).values()):
                raise ModelFormatError(f"the {type(self).__name__} model file sets "
                                       f"{sorted(options)} but records no covariates")
            return
        design = Design.from_dict(data["covariates"])
        self._set_covariates({f"{p}_covariates": c for p, c in design.processes.items()})
        options = options or {}
        self.shared_covariates, penalty = covariate_options(
            type(self), self.covariates, options.get("shared_covariates"),
            options.get("covariate_penalty"))
        if "covariate_penalty" in options or getattr(self, "covariate_penalty", None):
            self.covariate_penalty = penalty
        spec = self._covariate_spec(design)
        if data.get("restricted_log_likelihood") is not None:
            spec.restricted = Estimate(np.array([]), np.array([]),
                                       float(data["restricted_log_likelihood"]), 0.0)
        self._fitted_specification(spec)

    def _check_loaded(self) -> None:
        """A loaded model is checked like a fitted one: a ModelFormatError where a parameter
        (or a posterior draw) is not a finite number > 0."""
        problem = self._parameter_problem()
        if problem:
            raise ModelFormatError(f"the {type(self).__name__} model file is damaged or was "
                                   f"edited: {problem}. Refit the model")

    def _restore_header(self, data: dict) -> None:
        """Set what :meth:`state_header` wrote; ModelFormatError for a bad unit or count.

        Parameters
        ----------
        data : dict
            A model file's plain data.
        """
        unit = data["time_unit"]
        if unit not in DAYS_PER_UNIT and unit is not None:
            raise ModelFormatError(f"the {type(self).__name__} model file has an unknown time "
                                   f"unit {unit!r}; it is damaged: refit the model")
        if unit is None and self.kind == "purchases" and not getattr(self, "discrete", False):
            raise ModelFormatError(f"the {type(self).__name__} model file records no time unit, "
                                   "so no horizon could be read in it: refit the model on a "
                                   "frame that records its unit")
        self.time_unit_ = unit
        count = data["n_customers"]
        if not (isinstance(count, (int, float)) and not isinstance(count, bool)
                and np.isfinite(count) and count >= 0 and count == round(count)):
            raise ModelFormatError(f"the {type(self).__name__} model file's n_customers is "
                                   f"{show(count)}, not a whole number >= 0; refit the model")
        self.n_customers_ = int(count)
        for fact in self.facts:  # whole numbers stay whole (k), the others as written
            if fact in data:
                value = file_number(data[fact], fact, type(self))
                setattr(self, fact + "_", int(value) if isinstance(data[fact], int) else value)


def save_with_posterior(model, path) -> None:
    """Save a model with a posterior: its netCDF posterior in ``<name>.nc`` beside the JSON
    (``model.write_posterior``), then the JSON naming it (``model.to_dict(posterior_file)``),
    each written atomically."""
    import os

    from ..files import check_output_path

    check_output_path(path, "path")
    posterior = os.path.splitext(os.fspath(path))[0] + ".nc"
    model.write_posterior(posterior)
    write_json_atomic(model.to_dict(os.path.basename(posterior)), path, "path")


def read_posterior(data: dict, folder: str | None):
    """The posterior (ArviZ InferenceData, read whole: no file left open) of the netCDF file a
    model file names, in ``folder``; a ModelFormatError where it is missing."""
    import os

    import arviz as az

    path = os.path.join(folder or ".", os.path.basename(data["posterior_file"]))
    if not os.path.exists(path):
        raise ModelFormatError(f"the posterior file {path!r} named in the model file is missing")
    idata = az.from_netcdf(path)
    for group in idata.groups():
        getattr(idata, group).load()
    return idata


def file_number(value, what: str, cls) -> float:
    """A number read from a model file: a JSON number (not text, not true/false), finite; a
    ModelFormatError naming ``what`` otherwise."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not np.isfinite(
            float(value)):
        raise ModelFormatError(f"the {cls.__name__} model file's {what} is {show(value)}, not "
                               "a finite number: the file was edited or damaged; refit the model")
    return float(value)


def stored_parameters(stored, names, cls) -> list[float]:
    """The values of ``names`` from a model file's ``{name: value}``: a ModelFormatError
    naming the first parameter that is missing, not the model's (a covariate column or level
    edited or removed), or not a number."""
    if not isinstance(stored, dict):
        raise ModelFormatError(f"the {cls.__name__} model file's parameters are not a "
                               "{name: value} object; refit the model")
    missing = [k for k in names if k not in stored]
    extra = [k for k in stored if k not in names]
    if missing or extra:
        what = (f"it lacks parameter {missing[0]!r}" if missing else
                f"parameter {extra[0]!r} is not one of this model's")
        raise ModelFormatError(
            f"the {cls.__name__} model file's parameters do not fit its model: {what} (the "
            f"model with the covariates it records has {list(names)}); the file was edited: "
            "refit the model")
    return [file_number(stored[k], f"parameter {k}", cls) for k in names]


@dataclass
class Estimate:
    """A maximum-likelihood estimate: parameters, covariance, log-likelihood, customers."""

    params: np.ndarray
    covariance: np.ndarray
    log_likelihood: float
    n: float


def positive_mask(model, size: int) -> np.ndarray:
    """Which parameters are > 0 (fitted as logarithms); the others (covariate coefficients,
    ``model.positive``) are real numbers, fitted as they are."""
    positive = getattr(model, "positive", None)
    return np.ones(size, dtype=bool) if positive is None else np.asarray(positive, dtype=bool)


def to_free(params, positive) -> np.ndarray:
    """Natural parameters to the free ones the optimiser moves (logarithms of the positive)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(positive, np.log(np.where(positive, params, 1.0)), params)


def to_natural(free, positive) -> np.ndarray:
    """The inverse of :func:`to_free`."""
    return np.where(positive, np.exp(np.where(positive, free, 0.0)), free)


def free_scale(params, positive) -> np.ndarray:
    """d(natural)/d(free): the parameter itself where it is fitted as a logarithm, else 1."""
    return np.where(positive, params, 1.0)


def coefficient_penalty(model, params) -> tuple[float, np.ndarray, np.ndarray]:
    """A specification's own penalty on its parameters (per-process L2 on covariate
    coefficients: :meth:`CovariateSpecification.coefficient_penalty`), in units of the mean
    negative log-likelihood: value, gradient, diagonal Hessian; zeros where it has none."""
    own = getattr(model, "coefficient_penalty", None)
    if own is None:
        zeros = np.zeros(len(params))
        return 0.0, zeros, zeros
    return own(params)


def _objective(model, data, n, penalizer):
    """Mean penalised negative log-likelihood and its gradient, in the free parameters."""

    def objective(free):
        positive = positive_mask(model, len(free))
        with np.errstate(all="ignore"):  # a non-finite trial point is rejected below
            params = to_natural(free, positive)
            ll, grad = model.loglik_grad(params, data)
            extra, extra_grad, _ = coefficient_penalty(model, params)
            value = -ll / n + penalizer * (params @ params) + extra
            gradient = (-grad / n + 2 * penalizer * params + extra_grad) * free_scale(
                params, positive)
        if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
            return np.inf, np.zeros_like(free)
        return value, gradient

    return objective


def _penalised_grad(model, params, data, n, penalizer) -> np.ndarray:
    """Gradient of the penalised total negative log-likelihood in natural parameters."""
    with np.errstate(all="ignore"):
        g = model.loglik_grad(params, data)[1]
    return -g + 2 * penalizer * n * params + n * coefficient_penalty(model, params)[1]


def _hessian(model, params, data, n, penalizer, at=None) -> np.ndarray:
    """Hessian of the penalised total negative log-likelihood: the model's own
    (``loglik_hessian``, where its gradient is numerical: differences of differences would lose
    half the digits), else forward differences of the analytic gradient (``at``: its value at
    ``params`` where already known; relative step 1e-7), symmetrised."""
    k = len(params)
    if hasattr(model, "loglik_hessian"):
        with np.errstate(all="ignore"):
            return (-model.loglik_hessian(params, data) + 2 * penalizer * n * np.eye(k)
                    + n * np.diag(coefficient_penalty(model, params)[2]))
    if at is None:
        at = _penalised_grad(model, params, data, n, penalizer)
    hessian = np.empty((k, k))
    scale = np.where(positive_mask(model, k), params, np.maximum(np.abs(params), 1.0))
    for j in range(k):
        step = np.zeros(k)
        step[j] = 1e-7 * scale[j]
        hessian[:, j] = (_penalised_grad(model, params + step, data, n, penalizer) - at) / step[j]
    return (hessian + hessian.T) / 2


def _scaled_newton(model, data, small, params, objective, penalizer, steps: int = 6,
                   tolerance: float = 1e-7):
    """From the subsample's estimate, Newton steps on all the data with the subsample's
    Hessian scaled to the full count: each costs one full gradient, and the scaled Hessian is
    within sampling noise (about 1 %) of the full one, so each step gains about two digits.
    Stops at ``tolerance`` (the largest gradient of the mean objective): L-BFGS-B checks and
    finishes from the free parameters returned, and Newton steps with the full Hessian after
    it."""
    positive = positive_mask(model, len(params))
    with np.errstate(all="ignore"):
        hessian = _hessian(model, params, small, small.n, penalizer) * (data.n / small.n)
    if not np.all(np.isfinite(hessian)):
        return to_free(params, positive)
    value, gradient = objective(to_free(params, positive))
    for _ in range(steps):
        if not np.isfinite(value) or np.max(np.abs(gradient)) < tolerance:
            break
        with np.errstate(all="ignore"):
            step = np.linalg.lstsq(hessian, gradient * data.n / free_scale(params, positive),
                                   rcond=None)[0]
        for _ in range(4):  # a noisy direction of the subsample's Hessian: shorter steps
            trial = params - step
            if np.all(trial[positive] > 0):
                trial_value, trial_gradient = objective(to_free(trial, positive))
                if trial_value <= value:
                    break
            step = step / 4
        else:
            break
        params, value, gradient = trial, trial_value, trial_gradient
    return to_free(params, positive)


def prepare_fit(model, rfm: pd.DataFrame, weights, penalizer: float = 0.0,
                time_unit: str | None = None):
    """``(spec, data, unit)``: what an engine fits (:meth:`FittedModel._specification`), its
    prepared data (the frame and ``weights`` checked) and the time unit the fit records
    (:meth:`FittedModel._fit_time_unit`). With covariates, the model without them is fitted
    first, on the compressed histories: the start of the fit with them and the restricted
    model of the likelihood-ratio test."""
    spec = model._specification()
    if not isinstance(rfm, pd.DataFrame):
        raise DataError(f"expected an RFM DataFrame (see clvmodels.rfm_summary), not "
                        f"{type(rfm).__name__}" + (ARRAYS_HINT if isinstance(
                            rfm, (pd.Series, np.ndarray, list)) else ""))
    data = spec.prepare(rfm, check_weights(weights, rfm))
    unit = model._fit_time_unit(rfm, time_unit)
    if spec is not model:
        spec.restricted = fit_estimate(model, data.base, penalizer)
    return spec, data, unit


def fit_estimate(spec, data, penalizer: float = 0.0) -> Estimate:
    """The maximum-likelihood estimate of a specification: its own way where its parameters
    have bounds of their own (``spec.maximise_likelihood(data, penalizer)``: the correlated
    Pareto/NBD, GGompertz/NBD), else :func:`maximum_likelihood`."""
    maximise = getattr(spec, "maximise_likelihood", None)
    return (maximise(data, penalizer) if maximise is not None
            else maximum_likelihood(spec, data, penalizer))


def maximum_likelihood(model, data, penalizer: float = 0.0) -> Estimate:
    """Maximise ``model.loglik_grad`` on prepared ``data`` (the lifetimes objective: mean
    negative log-likelihood + ``penalizer * sum(params**2)``), in log-parameters.

    A random subsample warm-starts large fits; L-BFGS-B is followed by up to three Newton steps
    with the Hessian that the standard errors need anyway, taken once (from ~1e-5 relative
    accuracy to ~1e-10); the covariance is the inverse Hessian where the estimate ends (taken
    again there if the steps moved it by more than ``hessian_reuse * sqrt(n)`` standard
    errors, default 0). The settings are the specification's ``fit_options``
    (:class:`clvmodels.models.options.FitOptions`; the defaults without). A
    ConvergenceError, with remedies, where it does not converge or the data do not identify
    the parameters."""
    name = getattr(model, "fit_name", type(model).__name__)
    n = data.n
    objective = _objective(model, data, n, penalizer)
    settings = getattr(model, "fit_options", DEFAULT_FIT_OPTIONS)
    # a model with its own Hessian lets the Newton steps finish what L-BFGS-B starts (one with
    # covariates leaves more to Newton: its exact Hessian costs a few passes, L-BFGS-B's last
    # digits a pass each on many more parameters); a fresh dict each fit
    options = settings.lbfgs_options(hasattr(model, "loglik_hessian"))
    initial = model.initial_params(data)
    positive = positive_mask(model, len(initial))
    start = to_free(initial, positive)
    if n > 2 * WARM_START_CUSTOMERS:
        small = model.subsample(data, WARM_START_CUSTOMERS / n, np.random.default_rng(0))
        warm = optimize.minimize(_objective(model, small, small.n, penalizer), start, jac=True,
                                 method="L-BFGS-B", options=options)
        if np.all(np.isfinite(warm.x)):
            # few full gradients: Newton steps with the subsample's Hessian, scaled
            start = _scaled_newton(model, data, small, to_natural(warm.x, positive), objective,
                                   penalizer, tolerance=options["gtol"])
    result = optimize.minimize(objective, start, jac=True, method="L-BFGS-B",
                               options=options)
    params = to_natural(result.x, positive)
    value, gradient = result.fun, result.jac
    hessian = hessian_at = None
    for _ in range(settings.newton_steps):  # Newton steps with the
        # Hessian the standard errors need
        grad_at = _penalised_grad(model, params, data, n, penalizer)
        if hessian is None:  # taken once: near the optimum it changes less than it matters
            hessian = _hessian(model, params, data, n, penalizer, grad_at)
            hessian_at = params
        if not np.all(np.isfinite(hessian)) or np.max(np.abs(gradient)) < (
                1e-9 if getattr(model, "numerical_gradient", False) else 1e-12):
            break
        with np.errstate(all="ignore"):
            newton = params - np.linalg.lstsq(hessian, grad_at, rcond=None)[0]
        if not np.all(newton[positive] > 0):
            break
        newton_value, newton_gradient = objective(to_free(newton, positive))
        # near the optimum the objective is flat to rounding: the gradient decides there
        if not (newton_value <= value or (newton_value <= value + 1e-13 * abs(value) and np.max(
                np.abs(newton_gradient)) < np.max(np.abs(gradient)))):
            break
        params, value, gradient = newton, newton_value, newton_gradient
    # the covariance is taken where the estimate ended: the Hessian again if the steps moved
    # it (a model with covariates, whose Hessian costs k passes over a million customers,
    # keeps it while it moved less than hessian_reuse * sqrt(n) standard errors: a Hessian
    # grows with n, its change over m standard errors with m sqrt(n), so that the relative
    # change stays about hessian_reuse)
    if hessian is None or _moved(params, hessian_at, hessian) > (
            settings.hessian_reuse * np.sqrt(n)):
        hessian = _hessian(model, params, data, n, penalizer)
    try:
        np.linalg.cholesky(hessian)
        covariance = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:  # refused just below
        covariance = np.full((len(params), len(params)), np.nan)
    if np.all(np.isfinite(params)) and np.isfinite(value):  # an unidentified estimate first:
        _check_identified(name, model.param_names, free_scale(params, positive), params,
                          covariance, n)  # it explains the rest
    grad_norm = np.max(np.abs(gradient))
    if not (np.all(np.isfinite(params)) and np.isfinite(value) and grad_norm < 1e-5):
        raise ConvergenceError(
            f"{name} did not converge ({result.message}; largest gradient {grad_norm:.2g}). Try: "
            "a small penalizer (penalizer=0.001), rescaling time (time_unit='W' rather than "
            "'D'), removing customers with implausible histories, or another model."
        )
    penalty = penalizer * (params @ params) + coefficient_penalty(model, params)[0]
    return Estimate(params, covariance, float(-n * (value - penalty)), n)


def _moved(params, at, hessian) -> float:
    """How far ``params`` is from ``at``, in standard errors of the covariance ``hessian``
    implies (infinite where it implies none)."""
    try:
        with np.errstate(all="ignore"):
            sd = np.sqrt(np.diag(np.linalg.inv(hessian)))
            moved = np.max(np.abs(params - at) / sd)
    except np.linalg.LinAlgError:
        return np.inf
    return float(moved) if np.isfinite(moved) else (0.0 if np.array_equal(params, at)
                                                      else np.inf)


def _check_identified(name, param_names, scale, params, cov: np.ndarray, n) -> None:
    """A ConvergenceError where the data do not determine the estimate: the likelihood is flat
    around it (its Hessian is not positive definite), or some parameter is not known within a
    factor of e^10 (a standard error of its logarithm above 10). Such estimates (r ~ 1e56 on
    two customers) are points on a ridge, not numbers to score with."""
    with np.errstate(all="ignore"):
        log_sd = np.sqrt(np.diag(cov)) / scale  # of log(theta), or of a coefficient
    if np.all(np.isfinite(log_sd)) and np.all(log_sd <= MAX_LOG_SD):
        return
    shown = ", ".join(f"{k}={v:.3g}" for k, v in zip(param_names, params))
    if np.all(np.isfinite(log_sd)):
        worst = param_names[int(np.argmax(log_sd))]
        what = worst if ":" in worst else f"log({worst})"  # a coefficient is not logged
        why = (f"{worst} is not determined by the data (the standard error of {what} is "
               f"{log_sd.max():.3g})")
    else:
        why = "the likelihood is flat around it (its Hessian is not positive definite)"
    raise ConvergenceError(
        f"{name}: the data of {n:,.0f} customer(s) do not identify the parameters: the estimate "
        f"({shown}) is a point on a ridge, since {why}. Try: more customers or a longer "
        "observation window, a small penalizer (penalizer=0.001), or a simpler model."
    )


class MaximumLikelihoodModel(FittedModel):
    """The maximum-likelihood engine: fits any model specification (see the module docstring).

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty on the parameters, added to the mean negative log-likelihood (as in
        lifetimes); a small one (0.001) steadies fits on few customers.
    covariate_penalty : dict, optional
        ``{process: lambda}``: an L2 penalty on each process's covariate coefficients,
        ``lambda * sum(gamma ** 2)`` added to the mean negative log-likelihood (CLVTools'
        ``reg.lambdas``; per standard deviation of each covariate, so units do not matter).
    shared_covariates : list of str, optional
        Covariates given to both processes whose coefficient is one (CLVTools'
        ``names.cov.constr``): it multiplies the purchase and the dropout rate alike
        (Pareto/NBD), named ``shared:<column>``; not penalised.
    **covariates
        ``<process>_covariates=[column, ...]`` (docs/covariates.md).

    Attributes
    ----------
    params_ : pandas.Series
        The estimate.
    covariance_ : pandas.DataFrame
        Its asymptotic covariance (inverse Hessian of the total negative log-likelihood).
    log_likelihood_ : float
        The total log-likelihood at the estimate.
    n_customers_ : int
        Customers fitted on.
    time_unit_ : str or None
        The unit of ``recency`` and ``T`` the model was fitted in.
    """

    engine = "mle"

    def __init__(self, penalizer: float = 0.0, covariate_penalty: dict | None = None,
                 shared_covariates=None, **covariates):
        self.penalizer = penalizer
        self._set_covariates(covariates)
        self.shared_covariates, self.covariate_penalty = covariate_options(
            type(self), self.covariates, shared_covariates, covariate_penalty)

    def fit(self, rfm: pd.DataFrame, weights=None, *arrays, time_unit: str | None = None):
        """Fit by maximum likelihood on the unique rows of ``rfm``.

        Parameters
        ----------
        rfm : pandas.DataFrame
            An RFM frame (:func:`clvmodels.rfm_summary`).
        weights : pandas.Series or array-like, optional
            How many customers each row stands for: a table of unique rows with their counts
            fits exactly like the customers themselves. A Series is matched to the rows by its
            index (labels missing or extra are refused); an array is taken in row order.
        time_unit : str, optional
            The unit of ``recency`` and ``T`` for a frame that records none.

        Returns
        -------
        self
        """
        check_no_arrays(self, arrays)
        if not (isinstance(self.penalizer, (int, float, np.integer, np.floating))
                and not isinstance(self.penalizer, (bool, np.bool_))
                and np.isfinite(self.penalizer) and self.penalizer >= 0):
            raise DataError(f"{given('penalizer', self.penalizer)}: the penalizer must be a "
                            "finite number >= 0")
        spec, data, unit = prepare_fit(self, rfm, weights, self.penalizer, time_unit)
        estimate = fit_estimate(spec, data, self.penalizer)
        self._fitted_specification(spec)
        names = list(spec.param_names)
        self.params_ = pd.Series(estimate.params, index=names, dtype=float)
        self.covariance_ = pd.DataFrame(estimate.covariance, index=names, columns=names)
        self.log_likelihood_ = estimate.log_likelihood
        self.n_customers_ = round(estimate.n)
        self.time_unit_ = unit
        for fact, value in data.facts.items():
            setattr(self, fact + "_", value)
        spec.check_estimate(self.params_)
        return self

    _interval_draws = 1000  # draws of the asymptotic distribution behind an interval
    _interval_seed = 0  # so that the same call gives the same interval

    def parameter_draws(self, max_draws: int | None = None, interval=None) -> list[np.ndarray]:
        """The estimate as one draw: each parameter a ``(1, 1)`` array; for an ``interval``,
        the estimate followed by draws from the asymptotic normal distribution of the
        log-parameters (mean the log-estimate, covariance the delta-method transform of
        ``covariance_``; covariate coefficients as they are), ``max_draws`` of them (default
        1,000), reproducibly.

        Parameters
        ----------
        max_draws : int, optional
            Draws behind an interval.
        interval : float, optional
            Whether draws are wanted (any mass).

        Returns
        -------
        list of numpy.ndarray
        """
        self.check_fitted()
        check_draw_options(max_draws, interval)
        estimate = self.params_.to_numpy()
        if interval is None:
            return ParameterDraws((np.array([[v]]) for v in estimate), center="first")
        covariance = getattr(self, "covariance_", None)
        positive = self._positive_parameters()
        scale = free_scale(estimate, positive)
        if covariance is not None:
            covariance = covariance.to_numpy() / np.outer(scale, scale)
        if covariance is None or not np.all(np.isfinite(covariance)):
            raise DataError(f"this {type(self).__name__} has no finite covariance (a loaded "
                            "model of release 0.1.0 may lack it): refit it for intervals")
        count = int(max_draws or self._interval_draws)
        rng = np.random.default_rng(self._interval_seed)
        free = rng.multivariate_normal(to_free(estimate, positive), covariance, size=count,
                                       method="eigh")
        draws = np.vstack([estimate, to_natural(free, positive)])
        return ParameterDraws((draws[:, j][None, :] for j in range(len(estimate))),
                              center="first")

    def _parameter_problem(self) -> str | None:
        """Why the parameters cannot be used (not finite, not > 0), or None."""
        return invalid_parameters(self.parameter_names_, self.params_.to_numpy()[None, :],
                                  self._positive_parameters())

    # -- state ----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The plain-data form of the fitted model (format version 1, as release 0.1.0)."""
        self.check_fitted()
        return {
            **self._state_header(),
            "penalizer": self.penalizer,  # as release 0.1.0 wrote it; "settings" has them all
            "settings": self.constructor_settings(),
            "params": {k: float(v) for k, v in self.params_.items()},
            "covariance": [[None if np.isnan(v) else float(v) for v in row]
                           for row in self.covariance_.to_numpy()],
            "log_likelihood": self.log_likelihood_,
            **self._covariate_state(),
        }

    @classmethod
    def from_dict(cls, data: dict, folder: str | None = None):
        """Rebuild a fitted model from :meth:`to_dict` output, checked like a fitted one.

        Parameters
        ----------
        data : dict
        folder : str, optional
            Unused (no side files).

        Returns
        -------
        MaximumLikelihoodModel
        """
        try:
            settings = data.get("settings", {"penalizer": data["penalizer"]})
            known = cls.constructor_setting_names()
            if not isinstance(settings, dict) or set(settings) - set(known):
                extra = sorted(set(settings) - set(known)) if isinstance(settings, dict) else []
                raise ModelFormatError(
                    f"the {cls.__name__} model file's settings {extra or settings!r} are not "
                    f"this model's ({list(known)}); the file was edited: refit the model")
            settings = {k: (file_number(v, k, cls) if k == "penalizer" else v)
                        for k, v in settings.items()}
            options = {k: settings.pop(k) for k in COVARIATE_OPTIONS if k in settings}
            model = cls(**settings)
            model._restore_covariates(data, options)
            names = list(model.parameter_names_)
            model.params_ = pd.Series(stored_parameters(data["params"], names, cls),
                                      index=names)
            rows = data["covariance"]
            if not (isinstance(rows, list) and len(rows) == len(names) and all(
                    isinstance(row, list) and len(row) == len(names) for row in rows)):
                raise ModelFormatError(
                    f"the {cls.__name__} model file's covariance is not {len(names)} x "
                    f"{len(names)}, one row and column per parameter ({names}): it was edited; "
                    "refit the model")
            cov = np.array([[np.nan if v is None else file_number(v, "covariance", cls)
                             for v in row] for row in rows], dtype=float)
            model.covariance_ = pd.DataFrame(cov, index=names, columns=names)
            model.log_likelihood_ = file_number(data["log_likelihood"], "log_likelihood", cls)
            model._restore_header(data)
            if not (np.isfinite(model.penalizer) and model.penalizer >= 0):
                raise ValueError(f"penalizer {model.penalizer!r} is not a number >= 0")
        except ModelFormatError:
            raise
        except KeyError as err:
            raise ModelFormatError(f"the {cls.__name__} model file is incomplete: it has no "
                                   f"{err.args[0]!r}; refit the model") from err
        except (TypeError, ValueError, AttributeError) as err:
            raise ModelFormatError(f"the {cls.__name__} model file is incomplete or damaged: "
                                   f"{err!r}") from err
        model._check_loaded()
        return model

    # -- reporting -----------------------------------------------------------------------------
    @property
    def standard_errors_(self) -> pd.Series:
        """Standard errors of the estimate (square roots of the covariance's diagonal)."""
        self.check_fitted()
        return pd.Series(np.sqrt(np.diag(self.covariance_.to_numpy())), index=self.params_.index)

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Estimates with standard errors and Wald intervals at ``level``.

        Parameters
        ----------
        level : float, default 0.95

        Returns
        -------
        pandas.DataFrame
            One row per parameter: ``estimate``, ``std_error``, ``lower``, ``upper``.
        """
        self.check_fitted()
        check_mass(level, "level")
        z = stats.norm.ppf(0.5 + level / 2)
        se = self.standard_errors_
        table = pd.DataFrame({
            "estimate": self.params_, "std_error": se,
            "lower": self.params_ - z * se, "upper": self.params_ + z * se,
        }).rename_axis("parameter")
        table.attrs.update(
            model=type(self).__name__, log_likelihood=self.log_likelihood_,
            n_customers=self.n_customers_, time_unit=self.time_unit_, level=level,
        )
        return table

    def likelihood_ratio_test(self) -> pd.Series:
        """The likelihood-ratio test of the covariates: this fit against the same model without
        them on the same customers (fitted first, as the start of this one).

        Returns
        -------
        pandas.Series
            ``statistic`` (2 (LL - LL without covariates)), ``df`` (the coefficients) and
            ``p_value`` (chi-squared).
        """
        self.check_fitted()
        restricted = getattr(getattr(self, "spec_", None), "restricted", None)
        if restricted is None:
            raise DataError(f"this {type(self).__name__} has no covariates to test (or was "
                            "loaded from a file without the fit without them): refit it")
        df = len(self.parameter_names_) - len(type(self).param_names)
        statistic = 2.0 * (self.log_likelihood_ - restricted.log_likelihood)
        return pd.Series({"statistic": statistic, "df": float(df),
                          "p_value": float(stats.chi2.sf(max(statistic, 0.0), df))},
                         name="likelihood_ratio_test")

    def __repr__(self) -> str:
        name = type(self).__name__
        if not hasattr(self, "params_"):
            given_covariates = "".join(f", {p}_covariates={list(c)}"
                                       for p, c in self.covariates.items())
            return f"{name}(penalizer={self.penalizer}{given_covariates})"
        params = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        unit = UNIT_NAMES.get(self.time_unit_, "periods")
        return (f"{name}({params}; fitted on {self.n_customers_} customers in {unit}, "
                f"log-likelihood {self.log_likelihood_:.2f})")

