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
