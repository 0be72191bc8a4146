"""Numerically stable softmax helpers on numpy arrays."""

import numpy as np


def log_softmax(scores: np.ndarray) -> np.ndarray:
    r"""Row-wise log-softmax of a 2-D score matrix, stable for large scores.

    Columns that are ``-inf`` in a row get ``-inf`` (probability exactly zero)
    as long as the row has one finite score.

    Parameters
    ----------
    scores : array-like of shape (n_samples, n_classes)
        Class scores (logits).

    Returns
    -------
    log_proba : ndarray of shape (n_samples, n_classes)
        :math:`s_{ij} - \log \sum_k e^{s_{ik}}`, computed after subtracting
        the row maximum so that no ``exp`` overflows.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.utils import log_softmax
    >>> log_softmax(np.array([[1000.0, 1000.0, -np.inf]]))
    array([[-0.693..., -0.693...,       -inf]])
    """
    scores = np.asarray(scores)
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def softmax(scores: np.ndarray) -> np.ndarray:
    r"""Row-wise softmax of a 2-D score matrix; every row sums to one.

    Parameters
    ----------
    scores : array-like of shape (n_samples, n_classes)
        Class scores (logits).

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)
        :math:`e^{s_{ij}} / \sum_k e^{s_{ik}}`, computed after subtracting the
        row maximum so that no ``exp`` overflows.

    Examples
    --------
    >>> import numpy as np
    >>> from ltsk.utils import softmax
    >>> softmax(np.array([[0.0, np.log(3.0)], [1000.0, 1000.0]]))
    array([[0.25, 0.75],
           [0.5 , 0.5 ]])
    """
    scores = np.asarray(scores)
    exp = np.exp(scores - np.max(scores, axis=1, keepdims=True))
    exp /= np.sum(exp, axis=1, keepdims=True)
    return exp
