"""Arguments checked before anything is computed: per-customer ones aligned by customer
label (never by position), counts and probability masses in range.

Every argument that gives one value per customer (``weights=``, a horizon per customer,
``by=`` segments, a customer table) goes through :func:`align`: a pandas Series or DataFrame is
matched to the customers by its index labels, and must have exactly one row for each customer,
no more and no fewer; a plain array or list has no labels, so it is taken in the frame's order
and must have its length. Anything else is refused with the argument, how many labels are
missing or extra, the first of each, and the fix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .exceptions import DataError
from .interface import arg, show


def align(values, index: pd.Index, argument: str, *, what: str = "value"):
    """``values`` in the order of ``index``: a Series or DataFrame by its labels, an array or
    list by position (it must have one entry per customer).

    Parameters
    ----------
    values : pandas.Series, pandas.DataFrame, numpy.ndarray or list
        One ``what`` per customer.
    index : pandas.Index
        The customers, in the order wanted.
    argument : str
        The argument's Python name, for messages (``weights``).
    what : str
        What one entry is, for messages (``"weight"``).

    Returns
    -------
    pandas.Series, pandas.DataFrame or numpy.ndarray
        A Series or DataFrame reindexed to ``index``; an array as it was.

    Raises
    ------
    DataError
        Labels that are duplicated, missing or extra; an array of the wrong length.

    Examples
    --------
    >>> import pandas as pd
    >>> align(pd.Series([2.0, 1.0], index=["b", "a"]), pd.Index(["a", "b"]), "weights").tolist()
    [1.0, 2.0]
    >>> align(pd.Series([1.0], index=["a"]), pd.Index(["a", "b"]), "weights")
    Traceback (most recent call last):
    ...
    clvmodels.exceptions.DataError: weights= has no value for 1 customer(s) of the frame (first: 'b'); give one per customer, indexed by customer id
    """
    name = arg(argument)
    if isinstance(values, (pd.Series, pd.DataFrame)):
        labels = values.index
        if labels.has_duplicates:
            raise DataError(f"{name} has customer {show(labels[labels.duplicated()][0])} more "
                            f"than once: give one {what} per customer")
        if labels.equals(index):
            return values
        missing = ~index.isin(labels)
        extra = ~labels.isin(index)
        problems = []
        if missing.any():
            problems.append(f"has no {what} for {int(missing.sum()):,} customer(s) of the frame "
                            f"(first: {show(index[missing][0])})")
        if extra.any():
            problems.append(f"has {int(extra.sum()):,} label(s) that are not customers of the "
                            f"frame (first: {show(labels[extra][0])})")
        if problems:
            hint = ""
            if len(labels) and len(index) and labels.dtype.kind != index.dtype.kind and (
                    missing.all()):
                hint = (f" (the frame's ids are {index.dtype} and {name}'s are "
                        f"{labels.dtype}: read both the same way)")
            raise DataError(f"{name} " + " and ".join(problems)
                            + f"{hint}; give one per customer, indexed by customer id")
        return values.reindex(index)
    if isinstance(values, pd.Index):
        values = values.to_numpy()
    array = np.asarray(values)
    if array.ndim != 1 or len(array) != len(index):
        shape = "x".join(map(str, array.shape)) or "a single value"
        raise DataError(f"{name} must give one {what} per customer ({len(index):,}), not "
                        f"{shape}: pass a Series indexed by customer id")
    return array


def check_count(value, argument: str, *, low: int = 0, high: int | None = None) -> int:
    """``value`` as an int if it is a whole number from ``low`` to ``high`` (an integral float
    such as ``3.0`` too); else a DataError naming the argument.

    Examples
    --------
    >>> check_count(3.0, "n")
    3
    >>> check_count(float("inf"), "n")
    Traceback (most recent call last):
    ...
    clvmodels.exceptions.DataError: n= must be one whole number >= 0, not inf
    """
    ok = (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)) and np.isfinite(value) and float(value) == round(float(value))
          and value >= low and (high is None or value <= high))
    if not ok:
        bound = f">= {low}" if high is None else f"from {low} to {high:,}"
        raise DataError(f"{arg(argument)} must be one whole number {bound}, not {show(value)}")
    return int(value)


def check_mass(value, argument: str = "interval") -> float:
    """``value`` as a float if it is a probability mass strictly between 0 and 1 (an
    interval's, ``0.94``); else a DataError naming the argument and the fix.

    Examples
    --------
    >>> check_mass("94%")
    Traceback (most recent call last):
    ...
    clvmodels.exceptions.DataError: interval= must be a probability mass in (0, 1) such as 0.94, not '94%'
    """
    ok = (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)) and 0 < value < 1)
    if not ok:
        raise DataError(f"{arg(argument)} must be a probability mass in (0, 1) such as 0.94, "
                        f"not {show(value)}")
    return float(value)


def check_numbers(values, argument: str, rule: str) -> np.ndarray:
    """``values`` (a number or a sequence of them) as a 1-d float array; a DataError naming the
    argument and ``rule`` for text, true/false, ragged or empty input (``"3"`` is not read as 3).

    Examples
    --------
    >>> check_numbers([1, 2.5], "periods", "whole numbers").tolist()
    [1.0, 2.5]
    >>> check_numbers("3", "periods", "whole numbers >= 0")
    Traceback (most recent call last):
    ...
    clvmodels.exceptions.DataError: periods must be whole numbers >= 0, not '3'
    """
    try:
        raw = np.atleast_1d(np.asarray(values, dtype=object if isinstance(values, str)
                                       else None))
    except ValueError:  # a ragged sequence
        raw = np.array([None])
    if raw.dtype.kind not in "iuf" or raw.ndim != 1 or raw.size == 0:
        raise DataError(f"{argument} must be {rule}, not {values!r}")
    return raw.astype(np.float64)


MAX_DRAWS = 1_000_000  # parameter draws a prediction may ask for


def check_draw_options(max_draws, interval) -> None:
    """The options every prediction over parameter draws takes: ``max_draws`` a whole number
    >= 1 (or None), ``interval`` a probability mass (or None)."""
    if max_draws is not None:
        check_count(max_draws, "max_draws", low=1, high=MAX_DRAWS)
    if interval is not None:
        check_mass(interval, "interval")


def per_customer(**values) -> list[np.ndarray]:
    """Several per-customer arguments (``name=value``) as arrays in one customer order: each
    pandas Series matched by its labels to the first Series given (:func:`align`: labels
    missing, extra or repeated refused), arrays and lists taken by position (all of one
    length). Two Series of the same customers in different orders can never be paired by
    position.

    Examples
    --------
    >>> import pandas as pd
    >>> predicted = pd.Series([1.0, 2.0], index=["a", "b"])
    >>> actual = pd.Series([20.0, 10.0], index=["b", "a"])
    >>> [v.tolist() for v in per_customer(predicted=predicted, actual=actual)]
    [[1.0, 2.0], [10.0, 20.0]]
    """
    index = next((v.index for v in values.values() if isinstance(v, pd.Series)), None)
    out, length = [], None
    for argument, value in values.items():
        if isinstance(value, pd.DataFrame):
            raise DataError(f"{arg(argument)} must be one value per customer (a Series or an "
                            "array), not a DataFrame: pick its column")
        if isinstance(value, pd.Series) and index is not None:
            value = align(value, index, argument)
        array = np.asarray(value)
        if array.ndim == 0:
            out.append(array)
            continue
        if length is not None and len(array) != length:
            first = next(iter(values))
            raise DataError(f"{arg(argument)} has {len(array):,} values and {arg(first)} "
                            f"{length:,}: give one per customer in both (Series indexed by "
                            "customer id are matched by label)")
        length = len(array) if length is None else length
        out.append(array)
    return out
