"""Long-tailed data: class-size profiles, subsampling, and local loaders.

- :func:`long_tailed_counts`, :func:`make_long_tailed`: exponential and step
  profiles, and subsampling any (X, y) to one.
- :func:`load_digits_lt`: an offline long-tailed split of scikit-learn's digits.
- Readers for the original files in a local folder (``data_home`` or the
  ``LTSK_DATA`` environment variable; nothing is downloaded):
  :func:`load_idx`, :func:`load_mnist`, :func:`load_fashion_mnist`,
  :func:`load_cifar10`, :func:`load_cifar100`, :func:`load_letter`,
  :func:`load_shuttle`, and :func:`get_data_home`.
"""

from ltsk.datasets._digits import load_digits_lt
from ltsk.datasets._files import get_data_home
from ltsk.datasets._profiles import long_tailed_counts, make_long_tailed
from ltsk.datasets._tabular import load_letter, load_shuttle
from ltsk.datasets._vision import (
    load_cifar10,
    load_cifar100,
    load_fashion_mnist,
    load_idx,
    load_mnist,
)

__all__ = [
    "get_data_home",
    "load_cifar10",
    "load_cifar100",
    "load_digits_lt",
    "load_fashion_mnist",
    "load_idx",
    "load_letter",
    "load_mnist",
    "load_shuttle",
    "long_tailed_counts",
    "make_long_tailed",
]
