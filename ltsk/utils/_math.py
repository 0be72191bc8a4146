"""Numerically stable softmax helpers on numpy arrays."""

import numpy as np


def log_softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of a 2-D score matrix, stable for large scores.

    Columns that are ``-inf`` in a row get ``-inf`` (probability exactly zero)
    as long as the row has one finite score.
    """
    scores = np.asarray(scores)
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a 2-D score matrix; every row sums to one."""
    scores = np.asarray(scores)
    exp = np.exp(scores - np.max(scores, axis=1, keepdims=True))
    exp /= np.sum(exp, axis=1, keepdims=True)
    return exp
