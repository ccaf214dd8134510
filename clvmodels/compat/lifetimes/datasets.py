"""lifetimes' ``lifetimes.datasets``: the same files (shipped inside lifetimes) read the same
way. Native: :func:`clvmodels.load_cdnow` gives the CDNOW transactions."""

from __future__ import annotations

import pandas as pd

from .hints import pointing
from ...datasets import lifetimes_data_file

__all__ = ["load_cdnow_summary", "load_cdnow_summary_data_with_monetary_value", "load_dataset",
           "load_donations", "load_transaction_data"]


def load_dataset(filename, **kwargs) -> pd.DataFrame:
    """A data file of lifetimes by name, through ``pandas.read_csv(**kwargs)``."""
    return pd.read_csv(lifetimes_data_file(filename), **kwargs)


def load_donations(**kwargs) -> pd.DataFrame:
    """The donations data of the BG/BB paper (frequency, recency, periods, weights)."""
    return load_dataset("donations.csv", **kwargs)


def load_cdnow_summary(**kwargs) -> pd.DataFrame:
    """The CDNOW sample's RFM summary in weeks, as lifetimes ships it."""
    return load_dataset("cdnow_customers_summary.csv", **kwargs)


def load_transaction_data(**kwargs) -> pd.DataFrame:
    """lifetimes' simulated example transactions (``date``, ``id``)."""
    return load_dataset("example_transactions.csv", **kwargs)


def load_cdnow_summary_data_with_monetary_value(**kwargs) -> pd.DataFrame:
    """The CDNOW sample's RFM summary with monetary value, indexed by ``customer_id``."""
    frame = load_dataset("cdnow_customers_summary_with_transactions.csv", **kwargs)
    frame.columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    return frame.set_index("customer_id")


# each public function names its native equivalent when hints are on
for _name in __all__:
    globals()[_name] = pointing(globals()[_name])
