"""Readers for the UCI Letter Recognition and Statlog Shuttle files."""

import numpy as np
from sklearn.utils._param_validation import validate_params

from ltsk.datasets._files import DATA_HOME, SUBSET, find_file


@validate_params({"data_home": DATA_HOME}, prefer_skip_nested_validation=True)
def load_letter(data_home=None):
    """Load UCI Letter Recognition from its original CSV file.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding ``letter-recognition.data``, in ``uci/letter/``,
        ``letter/`` or directly. ``None`` reads the ``LTSK_DATA`` environment
        variable. Nothing is downloaded.

    Returns
    -------
    X : ndarray of shape (20000, 16), dtype float64
        The 16 integer-valued attributes (0-15).
    y : ndarray of shape (20000,), dtype str
        The letters "A" to "Z".

    Raises
    ------
    FileNotFoundError
        When the file is missing; the message lists every path looked for.
    ValueError
        When a row does not have a letter and 16 numbers.

    Notes
    -----
    The file has no header; column 0 is the letter and columns 1-16 the
    attributes. The classes are roughly balanced (734-813 rows: imbalance
    ratio 1.11 by :func:`ltsk.metrics.imbalance_summary`); the Letter-LT
    protocol makes the training part long-tailed with
    :func:`make_long_tailed` and ``class_order="shuffle"``.

    References
    ----------
    .. [1] P. W. Frey and D. J. Slate, "Letter Recognition Using Holland-style
       Adaptive Classifiers", Machine Learning 6(2), 1991.

    Examples
    --------
    >>> import os, tempfile
    >>> from ltsk.datasets import load_letter
    >>> home = tempfile.mkdtemp()
    >>> with open(os.path.join(home, "letter-recognition.data"), "w") as f:
    ...     _ = f.write("T,2,8,3,5,1,8,13,0,6,6,10,8,0,8,0,8\\n")
    >>> X, y = load_letter(home)
    >>> X.shape, y
    ((1, 16), array(['T'], dtype='<U1'))
    """
    path = find_file(
        data_home,
        "letter-recognition.data",
        ["uci/letter", "letter"],
        "UCI Letter Recognition",
    )
    letters, rows = [], []
    with open(path, encoding="ascii") as f:
        for line_number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            fields = line.strip().split(",")
            try:
                if len(fields) != 17 or not fields[0].strip():
                    raise ValueError
                values = [float(value) for value in fields[1:]]
            except ValueError:
                raise ValueError(
                    f"{str(path)!r} line {line_number}: expected a letter and 16 "
                    f"comma-separated numbers, got {line.strip()!r}."
                ) from None
            letters.append(fields[0].strip())
            rows.append(values)
    if not rows:
        raise ValueError(f"{str(path)!r} holds no data rows.")
    return np.array(rows, dtype=np.float64), np.array(letters)


@validate_params(
    {"data_home": DATA_HOME, "subset": SUBSET}, prefer_skip_nested_validation=True
)
def load_shuttle(data_home=None, *, subset="train"):
    """Load UCI Statlog Shuttle from its original train or test file.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding ``shuttle.trn`` and ``shuttle.tst``, in
        ``uci/shuttle/``, ``shuttle/`` or directly. ``None`` reads the
        ``LTSK_DATA`` environment variable. Nothing is downloaded.
    subset : {"train", "test"}, default="train"
        ``shuttle.trn`` (43500 rows) or ``shuttle.tst`` (14500 rows).

    Returns
    -------
    X : ndarray of shape (n_samples, 9), dtype float64
        The nine numeric attributes.
    y : ndarray of shape (n_samples,), dtype int64
        Classes 1-7, naturally long-tailed (the training file has 6 rows of
        class 6 and 34108 of class 1). :func:`ltsk.metrics.imbalance_summary`
        of the training labels: imbalance ratio 5684.7, Gini coefficient
        0.776, 93.9% of the rows in the two largest classes (the head share
        with ``head_fraction=0.2`` of 7 classes, rounded up; class 1 alone
        holds 78.4%), effective number of classes 1.95.

    Raises
    ------
    FileNotFoundError
        When the file is missing; the message lists every path looked for.
    ValueError
        When rows are not all numbers or have differing lengths.

    References
    ----------
    .. [1] D. Michie, D. J. Spiegelhalter and C. C. Taylor (eds.), "Machine
       Learning, Neural and Statistical Classification", Ellis Horwood, 1994
       (the Statlog project).

    Examples
    --------
    >>> import os, tempfile
    >>> from ltsk.datasets import load_shuttle
    >>> home = tempfile.mkdtemp()
    >>> with open(os.path.join(home, "shuttle.tst"), "w") as f:
    ...     _ = f.write("55 0 81 0 -6 11 25 88 64 4\\n56 0 96 0 52 -4 40 44 4 1\\n")
    >>> X, y = load_shuttle(home, subset="test")
    >>> X.shape, y
    ((2, 9), array([4, 1]))
    """
    name = "shuttle.trn" if subset == "train" else "shuttle.tst"
    path = find_file(data_home, name, ["uci/shuttle", "shuttle"], "UCI Shuttle")
    try:
        table = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise ValueError(
            f"{str(path)!r} should hold space-separated numbers, the same count "
            f"on every row: {exc}"
        ) from exc
    if table.shape[0] == 0 or table.shape[1] < 2:
        raise ValueError(
            f"{str(path)!r} should hold rows of features followed by the class, "
            f"got an array of shape {table.shape}."
        )
    labels = table[:, -1]
    if not np.all(labels == np.round(labels)):
        raise ValueError(f"{str(path)!r}: the last column must hold integer classes.")
    return table[:, :-1], labels.astype(np.int64)
