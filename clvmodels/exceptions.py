"""The few error and warning types users catch."""


class DataError(ValueError):
    """The input data break a rule; the message names the column, the rule and the offenders."""


class NotFittedError(ValueError, AttributeError):
    """A prediction or summary was asked of a model before ``fit``."""


class ConvergenceError(RuntimeError):
    """Maximum likelihood did not converge; the message lists remedies to try."""


class ModelFormatError(ValueError):
    """A saved model file is not one this version of clvmodels can read."""


class DataQualityWarning(UserWarning):
    """Rows or customers were excluded, or a model assumption looks violated."""
