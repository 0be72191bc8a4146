"""Finding data files in a local data directory (never downloading them)."""

import os
from pathlib import Path

from sklearn.utils._param_validation import StrOptions, validate_params

DATA_ENV = "LTSK_DATA"

# Shared by the loaders, so that the same mistake is worded the same way.
DATA_HOME = [str, os.PathLike, None]
SUBSET = [StrOptions({"train", "test"})]


@validate_params({"data_home": DATA_HOME}, prefer_skip_nested_validation=True)
def get_data_home(data_home=None) -> Path:
    """Return the directory the loaders read from.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The directory. ``None`` reads the ``LTSK_DATA`` environment variable.

    Returns
    -------
    data_home : pathlib.Path
        The existing directory.

    Raises
    ------
    FileNotFoundError
        When neither ``data_home`` nor ``LTSK_DATA`` is set, or the directory
        does not exist.

    Examples
    --------
    >>> from ltsk.datasets import get_data_home
    >>> get_data_home(".").is_dir()
    True
    """
    if data_home is None:
        data_home = os.environ.get(DATA_ENV) or None
        if data_home is None:
            raise FileNotFoundError(
                "No data directory given: pass data_home='/path/to/data' or set "
                f"the {DATA_ENV} environment variable to the folder that holds "
                "the dataset files. ltsk never downloads data."
            )
    path = Path(data_home).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"data_home {str(path)!r} is not a directory. Pass data_home= or set "
            f"{DATA_ENV} to the folder that holds the dataset files."
        )
    return path


def find_file(data_home, name, subdirs, dataset) -> Path:
    """Return the first existing ``data_home/<subdir>/<name>``.

    ``subdirs`` are tried in order, then ``data_home`` itself; the error lists
    every path that was looked for.
    """
    home = get_data_home(data_home)
    names = [name] if isinstance(name, str) else list(name)
    candidates = [home / sub / n for sub in [*subdirs, ""] for n in names]
    for path in candidates:
        if path.is_file():
            return path
    looked = "\n  ".join(str(path) for path in candidates)
    raise FileNotFoundError(
        f"{dataset} file {names[0]!r} not found; looked for:\n  {looked}\n"
        "Put the original files in one of these places, or point data_home= "
        f"(or the {DATA_ENV} environment variable) at the folder that holds "
        "them. ltsk never downloads data."
    )
