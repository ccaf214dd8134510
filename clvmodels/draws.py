"""Predictions over parameter draws, summarised in bounded memory.

Every prediction is a function of the model's parameters, evaluated on a set of parameter
*draws*: a posterior gives many, a maximum-likelihood estimate is one draw. Parameters travel as
row vectors of shape ``(1, D)`` (``D`` draws) so that they broadcast against customers as
columns ``(n, 1)``; a prediction for ``n`` rows is an ``(n, D)`` array. :func:`summarise_draws`
turns such a computation into a per-customer mean (and an equal-tailed interval), working in
chunks of rows so that at most :data:`CHUNK_ELEMENTS` values are held at once per thread
(:func:`for_each_chunk` runs the chunks on every core: numpy and scipy's special functions
release the interpreter lock, so threads share the work without copying the data).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from .arguments import align, check_count, check_mass
from .exceptions import DataError

CHUNK_ELEMENTS = 4_000_000  # rows x draws evaluated at once: about 32 MB per array
MAX_RETURNED_ROWS = 10_000  # return_draws gives (rows, draws) tables up to this many rows


def threads() -> int:
    """How many threads share a prediction's chunks: the environment variable
    ``CLVMODELS_THREADS`` where set (1 turns threading off), else the cores this process may
    use."""
    setting = os.environ.get("CLVMODELS_THREADS", "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise DataError(f"CLVMODELS_THREADS={setting!r}: set it to a whole number >= 1 "
                            "(1 turns threading off) or leave it unset")
        return int(setting)
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(
        os.cpu_count() or 1)
    return max(1, len(cores))


def for_each_chunk(work, n_rows: int, chunk: int) -> None:
    """``work(start, stop)`` for consecutive chunks of ``range(n_rows)``, on :func:`threads`
    threads. Each call must write its own rows only; the results are the same as one thread's
    (each chunk is computed the same way), only sooner."""
    bounds = [(start, min(start + chunk, n_rows)) for start in range(0, n_rows, chunk)]
    workers = min(threads(), len(bounds))
    if workers <= 1:
        for start, stop in bounds:
            work(start, stop)
        return
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(lambda b: work(*b), bounds):  # re-raises the first failure
            pass


def thin(values: np.ndarray, max_draws: int | None) -> np.ndarray:
    """Rows of ``values`` (one per draw) evenly thinned to at most ``max_draws``."""
    if max_draws is not None:
        max_draws = check_count(max_draws, "max_draws", low=1)
        if len(values) > max_draws:
            return values[np.linspace(0, len(values) - 1, max_draws).round().astype(int)]
    return values


class ParameterDraws(list):
    """Each parameter's draws, a ``(1, D)`` (or, per customer, ``(n, D)``) array each, knowing
    which value is the point: ``"first"`` where draw 0 is a maximum-likelihood estimate and
    the others are draws of its asymptotic distribution (the point stays the plug-in
    prediction), ``"mean"`` for a posterior (the point is the mean over draws).

    Parameters
    ----------
    arrays : iterable of numpy.ndarray
    center : {"first", "mean"}
    """

    def __init__(self, arrays, center: str = "mean"):
        super().__init__(arrays)
        if center not in ("first", "mean"):
            raise ValueError(f"center must be 'first' or 'mean', not {center!r}")
        self.center = center

    @property
    def n_draws(self) -> int:
        """How many draws (``D``)."""
        return self[0].shape[1]

    def like(self, arrays) -> "ParameterDraws":
        """Other arrays (the same draws, transformed: per customer, a subset) with this
        point."""
        return ParameterDraws(arrays, self.center)


def take_rows(params: list, rows) -> list:
    """The ``rows`` of per-customer parameter draws (``(n, D)`` arrays); a parameter shared by
    every customer (``(1, D)``) as it is."""
    return [p[rows] if p.shape[0] > 1 else p for p in params]


def row_means(values) -> np.ndarray:
    """The mean over axis 1 (the draws) of ``(rows, draws, ...)`` values, added draw by draw
    in one order whatever the number of rows: numpy's reductions pick their order of addition
    by the array's shape, so a customer's mean could differ in its last bit alone and in a
    frame."""
    draws = np.ascontiguousarray(np.moveaxis(np.asarray(values, dtype=np.float64), 1, 0))
    total = draws[0].copy()
    for draw in draws[1:]:
        total += draw
    return total / len(draws)


def summarise_draws(compute, n_rows: int, n_draws: int, interval, name: str, index,
                    expand=None, return_draws: bool = False, center: str = "mean"):
    """Mean over draws (and equal-tailed interval) of ``compute(rows) -> (len(rows), n_draws)``.

    Parameters
    ----------
    compute : callable
        Rows (an int array) to their values, one column per draw.
    n_rows, n_draws : int
        How many rows ``compute`` takes and how many draws it gives.
    interval : float or None
        Mass of the equal-tailed interval, e.g. 0.94; None for the mean alone.
    name : str
        Name of the returned Series.
    index : pandas.Index
        The customers, one per returned row.
    expand : numpy.ndarray, optional
        Maps each customer to its row (rows are unique histories).
    return_draws : bool
        Return the ``(customers, draws)`` table itself (at most 10,000 customers).
    center : {"mean", "first"}
        The point value: the mean over draws (a posterior), or the first draw with the
        interval over the others (a maximum-likelihood estimate and draws from its
        asymptotic distribution: the point stays the plug-in prediction).

    Returns
    -------
    pandas.Series or pandas.DataFrame
        A Series of means when ``interval`` is None; else a DataFrame with ``mean``, ``lower``,
        ``upper``; with ``return_draws`` a DataFrame with one column per draw.
    """
    if interval is not None:
        check_mass(interval, "interval")
    if return_draws:
        rows = np.arange(n_rows) if expand is None else expand
        if len(rows) > MAX_RETURNED_ROWS:
            raise DataError(f"return_draws is for small sets (<= {MAX_RETURNED_ROWS:,} "
                            "customers): pass a subset, or clvmodels.total for sums")
        table = pd.DataFrame(compute(rows), index=index)
        table.attrs["center"] = center  # which draw is the point (clvmodels.total reads it)
        return table
    chunk = max(1, CHUNK_ELEMENTS // max(n_draws, 1))
    out = np.empty((n_rows, 1 if interval is None else 3))

    def work(start, stop):
        rows = np.arange(start, stop)
        values = compute(rows)
        if center == "first":
            out[rows, 0], values = values[:, 0], values[:, 1:] if n_draws > 1 else values
        else:
            out[rows, 0] = row_means(values)
        if interval is not None:
            out[rows, 1:] = np.quantile(values, [(1 - interval) / 2, (1 + interval) / 2], axis=1).T

    for_each_chunk(work, n_rows, chunk)
    if expand is not None:
        out = out[expand]
    if interval is None:
        return pd.Series(out[:, 0], index=index, name=name)
    return pd.DataFrame(out, index=index, columns=["mean", "lower", "upper"])


PREDICTION_OPTIONS = """interval : float, optional
    Mass of an equal-tailed interval over the parameter draws, e.g. 0.94: the result is then
    a DataFrame of ``mean``, ``lower`` and ``upper``. A Bayesian model uses its posterior; a
    maximum-likelihood one keeps its estimate as the point (``mean``) and draws the interval
    from the asymptotic normal distribution of its log-parameters.
max_draws : int, optional
    Use at most this many draws (evenly thinned); all by default.
return_draws : bool, default False
    Return the draws themselves: a DataFrame, one row per customer and one column per draw
    (at most 10,000 customers).
time_unit : str, optional
    The unit of ``recency`` and ``T`` for a frame that records none (after a merge or a CSV
    round trip); it must be the model's."""
RFM_PARAMETER = """rfm : pandas.DataFrame
    The customers: an RFM frame (:func:`clvmodels.rfm_summary`) in the model's time unit."""
HORIZON_PARAMETER = """t : float, pandas.Series or pandas.Timedelta
    The horizon in the model's time unit: one for everyone, one per customer (a Series
    indexed like ``rfm``), or a duration."""
PREDICTION_RETURNS = """pandas.Series or pandas.DataFrame
    One value per customer, indexed like ``rfm`` (the posterior mean for a Bayesian model); a
    DataFrame with ``interval`` or ``return_draws``."""
SHARED_DOC = {"{rfm}": RFM_PARAMETER, "{t}": HORIZON_PARAMETER, "{options}": PREDICTION_OPTIONS,
              "{returns}": PREDICTION_RETURNS}


def fill_doc(function):
    """Replace the lines ``{rfm}``, ``{t}``, ``{options}`` and ``{returns}`` of a prediction's
    docstring with the texts every model's predictions share, at the line's indentation."""
    lines = []
    for line in (function.__doc__ or "").splitlines():
        key = line.strip()
        if key in SHARED_DOC:
            indent = line[: len(line) - len(line.lstrip())]
            lines += [indent + text if text else text for text in SHARED_DOC[key].splitlines()]
        else:
            lines.append(line)
    function.__doc__ = "\n".join(lines)
    return function


def total(predict, rfm: pd.DataFrame, *args, by=None, interval: float = 0.94,
          max_draws: int | None = None, return_draws: bool = False, **kwargs) -> pd.DataFrame:
    """The sum of a per-customer prediction over the whole base, or per segment, with an
    interval from the per-draw sums: customer equity as "1.23M (94 %: 1.18M-1.29M)".

    Parameters
    ----------
    predict : callable
        A prediction that takes ``return_draws=True``: a model's method
        (``model.expected_purchases``), or a function of the customers such as
        ``lambda part, **k: clvmodels.customer_value(bg, gg, part, **k)``.
    rfm : pandas.DataFrame
        The customers, any number (evaluated 10,000 at a time).
    *args
        Passed to ``predict`` after the customers (a horizon ``t``).
    by : str, pandas.Series or array-like, optional
        A segment per customer: a column of ``rfm``, a Series matched to the customers by its
        index (labels missing or extra are refused), or an array in the frame's order; the
        whole base without it.
    interval : float
        Mass of the equal-tailed interval of each total.
    max_draws : int, optional
        Parameter draws to use.
    return_draws : bool, default False
        The per-draw totals themselves (one row per segment, one column per draw), at any
        size of the base.
    **kwargs
        Passed to ``predict``.

    Returns
    -------
    pandas.DataFrame
        One row per segment (``all`` without ``by``): ``mean`` (for a maximum-likelihood model,
        the total of its own predictions), ``lower``, ``upper``, and ``customers``.

    Examples
    --------
    >>> import clvmodels
    >>> rfm = clvmodels.rfm_summary(clvmodels.load_cdnow(), time_unit="W")
    >>> bg = clvmodels.BetaGeo().fit(rfm)
    >>> table = clvmodels.total(bg.expected_purchases, rfm, 52)
    >>> round(float(table.loc["all", "mean"]), 1) == round(float(bg.expected_purchases(rfm, 52).sum()), 1)
    True
    """
    if not callable(predict):
        raise DataError(f"predict must be a prediction to sum, such as bg.expected_purchases, "
                        f"not {type(predict).__name__}")
    if not isinstance(rfm, pd.DataFrame) or len(rfm) == 0:
        raise DataError("total needs a frame of at least one customer to sum over"
                        + ("" if isinstance(rfm, pd.DataFrame) else
                           f", not {type(rfm).__name__}"))
    check_mass(interval, "interval")
    if by is None:
        labels = pd.Categorical(np.zeros(len(rfm), dtype=int), categories=[0])
        names = pd.Index(["all"], name="segment")
    else:
        if isinstance(by, str):
            if by not in rfm.columns:
                raise DataError(f"by={by!r} is not a column of the frame (it has "
                                f"{list(rfm.columns)}): give a column name or a Series of "
                                "segments indexed by customer")
            by = rfm[by]
        if isinstance(by, pd.DataFrame):
            raise DataError("by must be one segment per customer (a Series or a column name), "
                            "not a DataFrame")
        values = np.asarray(align(by, rfm.index, "by", what="segment"), dtype=object)
        missing = pd.isna(values)
        if missing.any():
            raise DataError(f"by has no segment for {int(missing.sum()):,} customer(s) (first: "
                            f"{rfm.index[missing][0]!r}): fill them with a segment of their own "
                            "such as 'unknown'")
        labels = pd.Categorical(values)
        names = pd.Index(labels.categories, name=getattr(by, "name", None) or "segment")
    codes = labels.codes
    # a per-customer argument (a horizon per customer) goes with its customers, chunk by chunk
    aligned = lambda value, name: (align(value, rfm.index, name, what="value")
                                   if isinstance(value, pd.Series) else value)
    args = [aligned(a, "t") for a in args]
    kwargs = {k: aligned(v, k) for k, v in kwargs.items()}
    cut = lambda value, part: value.iloc[part] if isinstance(value, pd.Series) else value
    sums, center = None, "mean"
    for start in range(0, len(rfm), MAX_RETURNED_ROWS):
        part = slice(start, start + MAX_RETURNED_ROWS)
        draws = predict(rfm.iloc[part], *(cut(a, part) for a in args), interval=interval,
                        max_draws=max_draws, return_draws=True,
                        **{k: cut(v, part) for k, v in kwargs.items()})
        center = draws.attrs.get("center", "mean")
        onehot = np.zeros((len(names), len(draws)))
        onehot[codes[part], np.arange(len(draws))] = 1.0
        block = onehot @ draws.to_numpy()
        sums = block if sums is None else sums + block
    if return_draws:
        return pd.DataFrame(sums, index=names)
    if center == "first" and sums.shape[1] > 1:
        point, spread = sums[:, 0], sums[:, 1:]
    else:
        point, spread = sums.mean(axis=1), sums
    lower, upper = np.quantile(spread, [(1 - interval) / 2, (1 + interval) / 2], axis=1)
    return pd.DataFrame({"mean": point, "lower": lower, "upper": upper,
                         "customers": np.bincount(codes, minlength=len(names))}, index=names)
