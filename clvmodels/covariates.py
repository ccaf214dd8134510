"""Time-invariant customer covariates: checking, encoding and joining them.

A model with covariates (``BetaGeo(purchase_covariates=["channel", "age"])``) reads named columns
of the frame it is fitted on. Each column is encoded once, on the fitting frame, and the encoding
is stored with the model, so that scoring new customers reads their columns the same way:

- a numeric column is standardised, ``(value - mean) / sd`` with the fitting frame's mean and
  standard deviation, so that a coefficient is the effect of one standard deviation;
- a categorical column (text, ``category``, ``bool``) is one-hot encoded against its reference
  level (the first category of a pandas ``Categorical``, else the first level in sorted order),
  so that a coefficient is the effect of that level against the reference.

Everything that would make the coefficients meaningless is refused before any fitting, with the
column, the rule, the first offender and the fix: a missing column, a missing value, a column
that is neither numeric nor categorical, infinite values, a constant column, and a column that is
a linear combination of the others (with the intercept) of the same process. At scoring time a
category the model has not seen is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .columns import RowNames, integer_ids, normalize_ids
from .exceptions import DataError, ModelFormatError
from .files import check_input_file, csv_separator, table_columns, table_kind
from .interface import arg, show

MAX_LEVELS = 200  # a categorical column with more levels is an id, not a covariate


def _first(frame: pd.DataFrame, mask) -> str:
    return show(frame.index[np.flatnonzero(np.asarray(mask))[0]])


def _is_categorical(values: pd.Series) -> bool:
    return (isinstance(values.dtype, pd.CategoricalDtype) or values.dtype.kind in "bOSU"
            or pd.api.types.is_string_dtype(values.dtype))


@dataclass(frozen=True)
class Encoding:
    """How one covariate column becomes columns of the design matrix.

    Parameters
    ----------
    column : str
        The column's name.
    kind : {"numeric", "categorical"}
    mean, scale : float
        A numeric column's standardisation (the fitting frame's mean and standard deviation).
    levels : tuple of str
        A categorical column's levels, the reference first.
    """

    column: str
    kind: str
    mean: float = 0.0
    scale: float = 1.0
    levels: tuple = ()

    @property
    def names(self) -> list[str]:
        """The design columns: the column's name, or ``column[level]`` per non-reference level."""
        if self.kind == "numeric":
            return [self.column]
        return [f"{self.column}[{level}]" for level in self.levels[1:]]

    @classmethod
    def fit(cls, frame: pd.DataFrame, column: str, setting: str, weights=None) -> "Encoding":
        """The encoding of ``frame[column]`` (checked: present, no missing value, numeric or
        categorical, finite, not constant); ``weights``: customers per row."""
        values = _column(frame, column, setting)
        if _is_categorical(values):
            text = _as_text(values, column, frame)
            if isinstance(values.dtype, pd.CategoricalDtype):
                present = set(text.unique())
                levels = [str(c) for c in values.cat.categories if str(c) in present]
            else:
                levels = sorted(text.unique())
            if len(levels) < 2:
                raise DataError(f"covariate column {column!r} (in {arg(setting)}) has one value "
                                f"only ({levels[0]!r}), so its effect cannot be estimated: "
                                f"remove it from {arg(setting)}")
            if len(levels) > MAX_LEVELS:
                raise DataError(f"covariate column {column!r} (in {arg(setting)}) has "
                                f"{len(levels):,} distinct values (more than {MAX_LEVELS}): it "
                                "looks like an identifier; group its values into fewer "
                                "categories or leave it out")
            return cls(column, "categorical", levels=tuple(levels))
        numbers = values.to_numpy(dtype=np.float64)
        bad = ~np.isfinite(numbers)
        if bad.any():
            raise DataError(f"covariate column {column!r} holds {int(bad.sum()):,} infinite "
                            f"value(s) (first: customer {_first(frame, bad)}, "
                            f"{show(numbers[bad][0])}); a covariate must be a finite number: "
                            "cap or fix them")
        mean = float(np.average(numbers, weights=weights))
        scale = float(np.sqrt(np.average((numbers - mean) ** 2, weights=weights)))
        if not scale > 0 or scale < 1e-12 * max(1.0, abs(mean)):
            raise DataError(f"covariate column {column!r} (in {arg(setting)}) is constant "
                            f"({show(numbers[0])} for every customer), so its effect cannot be "
                            f"estimated: remove it from {arg(setting)}")
        return cls(column, "numeric", mean=mean, scale=scale)

    def transform(self, frame: pd.DataFrame, setting: str) -> np.ndarray:
        """The encoded ``(len(frame), len(names))`` block of ``frame[column]``."""
        values = _column(frame, self.column, setting)
        if self.kind == "numeric":
            if _is_categorical(values):
                raise DataError(f"covariate column {self.column!r} was numeric when the model "
                                f"was fitted but holds {values.dtype} values here (first: "
                                f"{show(values.iloc[0])}); convert it back to numbers")
            numbers = values.to_numpy(dtype=np.float64)
            bad = ~np.isfinite(numbers)
            if bad.any():
                raise DataError(f"covariate column {self.column!r} holds an infinite value "
                                f"(customer {_first(frame, bad)}); fix it")
            return ((numbers - self.mean) / self.scale)[:, None]
        text = _as_text(values, self.column, frame)
        known = pd.Index(self.levels)
        codes = known.get_indexer(text)
        unseen = codes < 0
        if unseen.any():
            raise DataError(
                f"covariate column {self.column!r} has the value {text.iloc[np.flatnonzero(unseen)[0]]!r}"
                f" (customer {_first(frame, unseen)}) that the model never saw when it was "
                f"fitted (it knows {list(self.levels)}); map it to a known level or refit the "
                "model on data that includes it")
        block = np.zeros((len(frame), len(self.levels) - 1))
        rows = np.flatnonzero(codes > 0)
        block[rows, codes[rows] - 1] = 1.0
        return block

    def to_dict(self) -> dict:
        """Plain data for the model file."""
        return {"column": self.column, "kind": self.kind, "mean": self.mean,
                "scale": self.scale, "levels": list(self.levels)}

    @classmethod
    def from_dict(cls, data: dict) -> "Encoding":
        """Rebuild from :meth:`to_dict` output; ModelFormatError where it is damaged."""
        def number(value):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise TypeError(f"{value!r} is not a number")
            return float(value)

        try:
            levels = data["levels"]
            if not isinstance(levels, list) or not all(isinstance(v, str) for v in levels):
                raise TypeError(f"levels {levels!r} are not a list of text")
            if not isinstance(data["column"], str) or not isinstance(data["kind"], str):
                raise TypeError("the column and kind must be text")
            encoding = cls(data["column"], data["kind"], number(data["mean"]),
                           number(data["scale"]), tuple(levels))
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFormatError(f"a covariate encoding in the model file is damaged: {err}"
                                   "; refit the model") from err
        if encoding.kind not in ("numeric", "categorical") or not (
                np.isfinite(encoding.scale) and encoding.scale > 0 and np.isfinite(encoding.mean)
        ) or (encoding.kind == "categorical" and (len(encoding.levels) < 2 or len(
                set(encoding.levels)) != len(encoding.levels))) or (
                encoding.kind == "numeric" and encoding.levels):
            raise ModelFormatError(f"the covariate encoding of {encoding.column!r} in the model "
                                   "file is damaged (its kind, scale or levels); refit the model")
        return encoding


def _column(frame: pd.DataFrame, column: str, setting: str) -> pd.Series:
    if not isinstance(column, str):
        raise DataError(f"{arg(setting)} must list column names, not {column!r}")
    if column not in frame.columns:
        raise DataError(
            f"covariate column {column!r} (in {arg(setting)}) is not in the frame, which has "
            f"{list(frame.columns)}; add it from a customer table with {arg('customers')}")
    values = frame[column]
    if isinstance(values, pd.DataFrame):
        raise DataError(f"the frame has two columns named {column!r}; rename one")
    missing = values.isna().to_numpy()
    if missing.any():
        raise DataError(f"covariate column {column!r} has {int(missing.sum()):,} missing value(s) "
                        f"(first: customer {_first(frame, missing)}); fill them (for a category, "
                        "with a level of its own such as 'unknown') or drop those customers")
    kind = values.dtype.kind
    if not (_is_categorical(values) or kind in "iuf"):
        raise DataError(f"covariate column {column!r} holds {values.dtype} values, neither "
                        "numbers nor categories; convert it (a date to a number such as days "
                        "since signup, for instance)")
    return values


def _as_text(values: pd.Series, column: str, frame: pd.DataFrame) -> pd.Series:
    """Category labels as text; refuses a column that mixes numbers and text."""
    if values.dtype.kind == "O":
        kinds = values.map(type)
        if kinds.nunique() > 1:
            odd = (kinds != kinds.iloc[0]).to_numpy()
            raise DataError(f"covariate column {column!r} mixes {kinds.iloc[0].__name__} and "
                            f"{kinds[odd].iloc[0].__name__} values (first: customer "
                            f"{_first(frame, odd)}, {show(values[odd].iloc[0])}); make it one "
                            "type")
    return values.astype(str)


@dataclass(frozen=True)
class Design:
    """The covariates of each process of a model: their encodings and design matrices.

    Parameters
    ----------
    processes : dict
        ``{process: (column, ...)}``, as given (``purchase_covariates=...``).
    encodings : dict
        ``{column: Encoding}``.
    """

    processes: dict
    encodings: dict

    @classmethod
    def fit(cls, frame: pd.DataFrame, processes: dict, weights=None) -> "Design":
        """Check and encode the covariates of each process on ``frame`` (see the module
        docstring for what is refused; the design matrices' rank: :meth:`check_rank`);
        ``weights``: customers per row (a numeric column is standardised over the
        customers)."""
        encodings = {}
        for process, columns in processes.items():
            for column in columns:
                if column not in encodings:
                    encodings[column] = Encoding.fit(frame, column, f"{process}_covariates",
                                                     weights)
        return cls(dict(processes), encodings)

    def names(self, process: str) -> list[str]:
        """The design columns of ``process``."""
        return [name for column in self.processes[process]
                for name in self.encodings[column].names]

    def names_of(self, process: str, columns) -> list[str]:
        """The design columns of ``process`` that encode any of ``columns``."""
        return [name for column in self.processes[process] if column in columns
                for name in self.encodings[column].names]

    def matrix(self, frame: pd.DataFrame, process: str) -> np.ndarray:
        """The ``(len(frame), len(names(process)))`` design matrix of ``process``."""
        blocks = [self.encodings[c].transform(frame, f"{process}_covariates")
                  for c in self.processes[process]]
        return np.hstack(blocks) if blocks else np.zeros((len(frame), 0))

    def compressible(self) -> bool:
        """Whether customers share covariate values (categorical covariates, or numeric ones
        with few distinct values), so that unique (history, covariates) rows compress."""
        return all(e.kind == "categorical" for e in self.encodings.values())

    def columns(self) -> list[str]:
        """Every covariate column the model reads, each once."""
        return list(self.encodings)

    def check_rank(self, matrix: np.ndarray, process: str) -> None:
        """A DataError where a column of ``process``'s design ``matrix`` (of the customers a
        model is fitted on) is a linear combination of the intercept and the columns before
        it (then no data can tell their effects apart)."""
        if not matrix.shape[1]:
            return
        names = self.names(process)
        if len(matrix) > 200_000:  # the rank is a property of the columns: a sample tells
            matrix = matrix[np.random.default_rng(0).choice(len(matrix), 200_000, replace=False)]
        basis = np.ones((len(matrix), 1))
        for j, name in enumerate(names):
            trial = np.hstack([basis, matrix[:, j:j + 1]])
            singular = np.linalg.svd(trial / np.linalg.norm(trial, axis=0), compute_uv=False)
            if singular[-1] < 1e-8:
                raise DataError(
                    f"covariate {name!r} (in {arg(process + '_covariates')}) is a linear "
                    f"combination of the intercept and {names[:j] or 'nothing else'} "
                    "on these customers (perfectly collinear), so the effects cannot be told "
                    "apart: leave one of them out")
            basis = trial

    def to_dict(self) -> dict:
        """Plain data for the model file."""
        return {"processes": {p: list(c) for p, c in self.processes.items()},
                "encodings": [e.to_dict() for e in self.encodings.values()]}

    @classmethod
    def from_dict(cls, data: dict) -> "Design":
        """Rebuild from :meth:`to_dict` output; ModelFormatError where it is damaged."""
        try:
            encodings = {}
            for item in data["encodings"]:
                encoding = Encoding.from_dict(item)
                if encoding.column in encodings:
                    raise ModelFormatError(f"the model file encodes covariate "
                                           f"{encoding.column!r} twice; refit the model")
                encodings[encoding.column] = encoding
            processes = {str(p): tuple(str(c) for c in cols)
                         for p, cols in data["processes"].items()}
        except (KeyError, TypeError, AttributeError) as err:
            raise ModelFormatError(f"the covariates in the model file are damaged: {err!r}; "
                                   "refit the model") from err
        if any(c not in encodings for cols in processes.values() for c in cols):
            raise ModelFormatError("the model file names a covariate it has no encoding of; "
                                   "refit the model")
        return cls(processes, encodings)


def read_side_file(path: str, text_columns, header, sep, what: str):
    """A side table's file (CSV or Parquet) whole, and how to name its rows: ``text_columns``
    (ids, dates) read from CSV as text, where only an empty field is missing (an id "NA" is an
    id); elsewhere the usual missing-value markers. A DataError naming ``what`` for a file that
    cannot be read."""
    try:
        if table_kind(path) == "parquet":
            return pd.read_parquet(path), RowNames("row", source=path)
        table = pd.read_csv(path, sep=csv_separator(path, sep),
                            dtype={c: str for c in text_columns}, keep_default_na=False,
                            na_values={c: ([""] if c in text_columns else
                                           ["", "NA", "NaN", "nan", "null", "NULL"])
                                       for c in header})
        return table, RowNames("line", source=path)
    except Exception as err:  # noqa: BLE001 - whatever a damaged file raises
        raise DataError(f"cannot read {what}: "
                        f"{str(err).strip().splitlines()[0] if str(err).strip() else err!r}"
                        ) from err


def read_customers(customers, id_column: str = "customer_id", setting: str = "customers",
                   sep: str | None = None) -> pd.DataFrame:
    """A customer table indexed by the customer id: a DataFrame (indexed by the id, or with
    an ``id_column`` or ``customer_id`` column), a polars DataFrame, or the path of a CSV or
    Parquet file with such a column. The ids are read by the transaction log's rules
    (:mod:`clvmodels.columns`): text unless every id is written as a plain integer, so a
    CSV's ``0007`` stays ``"0007"``; fractional, missing or empty ids are refused.

    Parameters
    ----------
    customers : DataFrame or path
    id_column : str
        The id column (the transactions' customer column).
    setting : str
        The argument's name, for messages.
    sep : str, optional
        A CSV file's field separator (as the log's ``sep``).

    Returns
    -------
    pandas.DataFrame
    """
    import os

    rows = RowNames()
    if isinstance(customers, (str, os.PathLike)):
        path = os.fspath(customers)
        if not os.path.exists(path):
            raise DataError(f"the customer table {path!r} ({arg(setting)}) does not exist")
        check_input_file(path, f"the customer table ({arg(setting)})")
        header = table_columns(path, sep)
        column = next((c for c in (id_column, "customer_id") if c in header), None)
        if column is None:
            hint = ""
            if len(header) == 1 and any(s in header[0] for s in ";\t|"):
                hint = (f"; its header {header[0]!r} looks separated by another character: "
                        f"give {arg('sep')} (the separator the log's file uses too)")
            raise DataError(f"the customer table {path!r} ({arg(setting)}) has no "
                            f"{id_column!r} column to join on (it has {header}){hint}")
        table, rows = read_side_file(path, [column], header, sep,
                                     f"the customer table {path!r} ({arg(setting)})")
        if column in table.columns:
            table = table.set_index(column)
    elif hasattr(customers, "to_pandas") and not isinstance(customers, pd.DataFrame):
        table = customers.to_pandas()
    else:
        table = customers
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"{arg(setting)} must be a DataFrame of customers (indexed by the "
                        f"customer id, or with a customer_id column) or a CSV or Parquet file, "
                        f"not {type(customers).__name__}")
    for column in (id_column, "customer_id"):
        if column in table.columns:
            table = table.set_index(column)
            break
    ids = integer_ids(normalize_ids(pd.Series(table.index, index=table.index),
                                    table.index.name or "customer id", rows))
    return table.set_axis(pd.Index(ids.to_numpy(), name=table.index.name or "customer_id"))


def join_customers(rfm: pd.DataFrame, customers, setting: str = "customers",
                   id_column: str = "customer_id", sep: str | None = None) -> pd.DataFrame:
    """``rfm`` with the columns of a customer table joined on the customer id.

    ``customers`` is what :func:`read_customers` reads. Every customer of ``rfm`` must have
    exactly one row (customers of the table without transactions are not in ``rfm`` and are
    left out); a column named like one of ``rfm``'s is refused.

    Parameters
    ----------
    rfm : pandas.DataFrame
    customers : DataFrame or path
    setting : str
        The argument's name, for messages.
    id_column : str
        The id column of a table not indexed by it.
    sep : str, optional
        A CSV file's field separator.

    Returns
    -------
    pandas.DataFrame
        ``rfm`` with the table's columns appended, its attrs kept.
    """
    table = read_customers(customers, id_column, setting, sep)
    duplicated = table.index.duplicated()
    if duplicated.any():
        raise DataError(f"the customer table ({arg(setting)}) has customer "
                        f"{show(table.index[duplicated][0])} more than once; keep one row per "
                        "customer")
    clash = [c for c in table.columns if c in rfm.columns]
    if clash:
        raise DataError(f"the customer table ({arg(setting)}) has a column {clash[0]!r} that the "
                        "RFM frame computes itself; rename or drop it")
    index = table.index
    if rfm.index.dtype.kind not in "iu" and index.dtype.kind in "iu":
        index = index.astype(str)  # the log's ids are text: 7 is "7" (and never "007")
    table = table.set_axis(index)
    missing = ~rfm.index.isin(table.index)
    if missing.any():
        why = ""
        if rfm.index.dtype.kind in "iu" and index.dtype.kind not in "iu":
            odd = [v for v in index if not pd.isna(v)][:1]
            why = (f" (the transactions' ids are whole numbers, and the table's are text such "
                   f"as {odd[0]!r}: ids with leading zeros, signs or decimals are text, and "
                   "text never matches a number; write the ids the same way in both)"
                   if odd else "")
        elif rfm.index.dtype.kind not in "iu" and table.index.dtype.kind in "iu":
            why = (" (the transactions' ids are text and the table's whole numbers: "
                   f"customer {show(rfm.index[missing][0])} matches only the same text)")
        raise DataError(f"the customer table ({arg(setting)}) has no row for {int(missing.sum()):,}"
                        f" customer(s) of the transactions (first: {show(rfm.index[missing][0])})"
                        f"{why}; add them (with an 'unknown' level where a value is not known)")
    joined = pd.concat([rfm, table.reindex(rfm.index)], axis=1)
    joined.attrs.update(rfm.attrs)
    return joined
