"""Derivatives of a total log-likelihood by differences, for the models whose likelihood has
no closed-form gradient (GGompertz/NBD's quadrature, the correlated Pareto/NBD's mixture):
central differences for the gradient, second differences of the likelihood itself for the
Hessian (differences of a differenced gradient would lose half the digits)."""

from __future__ import annotations

import numpy as np


def central_gradient(total, params, steps) -> tuple[float, np.ndarray]:
    """``total(params)`` and its gradient by central differences with ``steps``.

    Parameters
    ----------
    total : callable
        The total log-likelihood of a parameter vector.
    params, steps : numpy.ndarray

    Returns
    -------
    (float, numpy.ndarray)
    """
    params = np.asarray(params, dtype=float)
    gradient = np.empty(len(params))
    for j, h in enumerate(steps):
        e = np.zeros(len(params))
        e[j] = h
        gradient[j] = (total(params + e) - total(params - e)) / (2 * h)
    return total(params), gradient


def second_differences(total, params, steps) -> np.ndarray:
    """The Hessian of ``total`` at ``params`` by second differences with ``steps``.

    Parameters
    ----------
    total : callable
    params, steps : numpy.ndarray

    Returns
    -------
    numpy.ndarray
    """
    params = np.asarray(params, dtype=float)
    k = len(params)
    center = total(params)
    hessian = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            ei, ej = np.zeros(k), np.zeros(k)
            ei[i], ej[j] = steps[i], steps[j]
            if i == j:
                value = (total(params + ei) - 2 * center + total(params - ei)) / steps[i] ** 2
            else:
                value = (total(params + ei + ej) - total(params + ei - ej)
                         - total(params - ei + ej) + total(params - ei - ej)) / (
                             4 * steps[i] * steps[j])
            hessian[i, j] = hessian[j, i] = value
    return hessian
