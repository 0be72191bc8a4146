"""Printing, JSON and the figure of a benchmark run."""

import json
import math
import platform

import numpy as np

__all__ = ["format_table", "save_figure", "write_json"]

_COLUMNS = ("many", "medium", "few", "all")


def _percent(value):
    return "   nan" if math.isnan(value) else f"{100 * value:6.2f}"


def format_table(rows, *, title=None) -> str:
    """Fixed-width table: one row per method, shot-group accuracy and fit seconds."""
    width = max(len("method"), *(len(row["method"]) for row in rows))
    header = f"{'method':<{width}}  {'Many':>6}  {'Medium':>6}  {'Few':>6}  " + (
        f"{'All':>6}  {'fit s':>7}  chosen"
    )
    lines = [title] if title else []
    lines += [header, "-" * len(header)]
    for row in rows:
        cells = "  ".join(_percent(row[key]) for key in _COLUMNS)
        chosen = ", ".join(f"{k}={v}" for k, v in row.get("chosen", {}).items())
        lines.append(
            f"{row['method']:<{width}}  {cells}  {row['fit_seconds']:7.2f}  {chosen}"
        )
    return "\n".join(lines)


def _json_ready(value):
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_json(path, results) -> None:
    """Write the results (NaN as null) with the machine it ran on."""
    payload = dict(results)
    payload["machine"] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(_json_ready(payload), handle, indent=2)
        handle.write("\n")


def save_figure(path, figure_data) -> None:
    """Weight norms of the classifiers against class size, and per-class accuracy.

    Drawn with :class:`~ltsk.plotting.WeightNormDisplay` and
    :class:`~ltsk.plotting.PerClassAccuracyDisplay`.

    Parameters
    ----------
    path : str
        Output image path.
    figure_data : dict
        ``counts`` (training count per class), ``norms`` ({method: per-class
        weight norms}), ``per_class`` ({method: per-class accuracy}).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("--plot needs matplotlib: pip install 'ltsk[plot]'") from exc

    from ltsk.plotting import PerClassAccuracyDisplay, WeightNormDisplay

    counts = np.asarray(figure_data["counts"])
    fig, (ax_norm, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for method, norms in figure_data["norms"].items():
        WeightNormDisplay(norms, counts, estimator_name=method).plot(ax=ax_norm)
    ax_norm.set_title("Classifier weight norms")
    methods = list(figure_data["per_class"])
    PerClassAccuracyDisplay(
        [figure_data["per_class"][m] for m in methods], counts, method_names=methods
    ).plot(ax=ax_acc)
    ax_acc.set_title("Per-class test accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
