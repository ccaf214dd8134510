"""Predictions over parameter draws, summarised in bounded memory.

Every prediction is a function of the model's parameters, evaluated on a set of parameter
*draws*: a posterior gives many, a maximum-likelihood estimate is one draw. Parameters travel as
row vectors of shape ``(1, D)`` (``D`` draws) so that they broadcast against customers as
columns ``(n, 1)``; a prediction for ``n`` rows is an ``(n, D)`` array. :func:`summarise_draws`
turns such a computation into a per-customer mean (and an equal-tailed interval), working in
chunks of rows so that at most :data:`CHUNK_ELEMENTS` values are held at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .exceptions import DataError

CHUNK_ELEMENTS = 4_000_000  # rows x draws evaluated at once: about 32 MB per array
MAX_RETURNED_ROWS = 10_000  # return_draws gives (rows, draws) tables up to this many rows


def thin(values: np.ndarray, max_draws: int | None) -> np.ndarray:
    """Rows of ``values`` (one per draw) evenly thinned to at most ``max_draws``."""
    if max_draws is not None:
        if max_draws < 1:
            raise DataError(f"max_draws must be a whole number >= 1, not {max_draws!r}")
        if len(values) > max_draws:
            return values[np.linspace(0, len(values) - 1, max_draws).round().astype(int)]
    return values


def summarise_draws(compute, n_rows: int, n_draws: int, interval, name: str, index,
                    expand=None, return_draws: bool = False):
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

    Returns
    -------
    pandas.Series or pandas.DataFrame
        A Series of means when ``interval`` is None; else a DataFrame with ``mean``, ``lower``,
        ``upper``; with ``return_draws`` a DataFrame with one column per draw.
    """
    if return_draws:
        rows = np.arange(n_rows) if expand is None else expand
        if len(rows) > MAX_RETURNED_ROWS:
            raise DataError(f"return_draws is for small sets (<= {MAX_RETURNED_ROWS:,} "
                            "customers): pass a subset")
        return pd.DataFrame(compute(rows), index=index)
    if interval is not None and not 0 < interval < 1:
        raise DataError(f"interval must be a probability mass in (0, 1), not {interval!r}")
    chunk = max(1, CHUNK_ELEMENTS // max(n_draws, 1))
    out = np.empty((n_rows, 1 if interval is None else 3))
    for start in range(0, n_rows, chunk):
        rows = np.arange(start, min(start + chunk, n_rows))
        values = compute(rows)
        out[rows, 0] = values.mean(axis=1)
        if interval is not None:
            out[rows, 1:] = np.quantile(values, [(1 - interval) / 2, (1 + interval) / 2], axis=1).T
    if expand is not None:
        out = out[expand]
    if interval is None:
        return pd.Series(out[:, 0], index=index, name=name)
    return pd.DataFrame(out, index=index, columns=["mean", "lower", "upper"])


PREDICTION_OPTIONS = """interval : float, optional
    Mass of an equal-tailed interval over the parameter draws, e.g. 0.94: the result is then
    a DataFrame of ``mean``, ``lower`` and ``upper``. Needs draws (a Bayesian model).
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
