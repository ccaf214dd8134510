"""Error messages in the words of the interface the user called.

The library names its arguments the Python way (``date_format=``); the command line names the
same setting by its flag (``--date-format``). Code that builds a message calls :func:`arg` for
every setting it names, and the command line runs its commands inside :func:`command_line`, so
one message serves both.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

_FLAGS: ContextVar[dict | None] = ContextVar("clvmodels_flags", default=None)


def arg(name: str) -> str:
    """How the user sets ``name``: ``name=`` in Python, its flag on the command line.

    Parameters
    ----------
    name : str
        The Python argument name, e.g. ``"date_format"``.

    Returns
    -------
    str
        ``"date_format="`` from Python; ``"--date-format"`` inside :func:`command_line`.

    Examples
    --------
    >>> arg("date_format")
    'date_format='
    >>> with command_line({"customer": "--customer-col"}):
    ...     arg("customer"), arg("date_format")
    ('--customer-col', '--date-format')
    """
    flags = _FLAGS.get()
    if flags is None:
        return f"{name}="
    return flags.get(name, "--" + name.replace("_", "-"))


@contextmanager
def command_line(flags: dict[str, str]):
    """Within this block, :func:`arg` names settings by their command-line flags.

    Parameters
    ----------
    flags : dict
        Python argument name -> flag, where the flag is not simply ``--`` + the name with dashes.
    """
    token = _FLAGS.set(dict(flags))
    try:
        yield
    finally:
        _FLAGS.reset(token)


def name(setting: str) -> str:
    """A setting's bare name: ``observation_end`` in Python, ``--observation-end`` on the
    command line."""
    return arg(setting).rstrip("=")


def show(value) -> str:
    """``repr`` of a value as the user wrote it: numpy scalars as plain Python numbers.

    Examples
    --------
    >>> import numpy as np
    >>> show(np.int64(7)), show("007")
    ('7', "'007'")
    """
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:
        value = item()
    return repr(value)


def given(name: str, value) -> str:
    """A setting and the value the user gave it: ``date_format='%d'`` in Python,
    ``--date-format %d`` on the command line.

    Examples
    --------
    >>> given("observation_end", "05/01/1997")
    "observation_end='05/01/1997'"
    >>> with command_line({}):
    ...     given("observation_end", "05/01/1997")
    '--observation-end 05/01/1997'
    """
    if _FLAGS.get() is None:
        return f"{name}={show(value)}"
    return f"{arg(name)} {value}"
