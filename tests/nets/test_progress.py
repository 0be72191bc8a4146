"""Progress callbacks: plain lines in a log, colour and bars on a terminal."""

import io
import sys

import numpy as np
import pytest

from ltsk.nets import MLP, LongTailNetClassifier
from ltsk.nets._callbacks import EpochBar, PlainPrintLog, progress_callbacks


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [40, 15, 5])
    X = (rng.normal(size=(60, 4)) + y[:, None]).astype(np.float32)
    return X, y


def _fit(X, y, callbacks, **params):
    return LongTailNetClassifier(
        MLP,
        module__hidden_units=(8,),
        max_epochs=3,
        batch_size=16,
        callbacks=callbacks,
        callbacks__print_log=None,
        random_state=0,
        **params,
    ).fit(X, y)


def test_log_file_gets_the_table_without_colour_codes(data):
    stream = io.StringIO()
    _fit(*data, progress_callbacks(1, stream), verbose=1)
    text = stream.getvalue()
    assert "\x1b" not in text
    rows = [line.split() for line in text.splitlines()[2:]]
    assert [row[0] for row in rows] == ["1", "2", "3"]


def test_terminal_keeps_skorch_colours(data):
    stream = _Terminal()
    _fit(*data, progress_callbacks(1, stream), verbose=1)
    assert "\x1b[" in stream.getvalue()  # best values highlighted


def test_verbose_zero_is_silent(data):
    stream = _Terminal()
    assert progress_callbacks(0, stream) == []
    _fit(*data, progress_callbacks(0, stream), verbose=0)
    assert stream.getvalue() == ""


def test_plain_print_log_formats_as_print_log():
    row = {"epoch": 2, "train_loss": 0.123456, "train_loss_best": True}
    log = PlainPrintLog()
    assert log.format_row(row, "train_loss", color="\x1b[36m") == "0.1235"


def test_epoch_bar_draws_only_on_a_terminal(data):
    terminal, log = _Terminal(), io.StringIO()
    _fit(*data, [("bar", EpochBar("net", stream=terminal))])
    assert "3/3" in terminal.getvalue() and "loss=" in terminal.getvalue()
    _fit(*data, [("bar", EpochBar("net", stream=log))])
    assert log.getvalue() == ""


def test_default_stream_is_stdout_for_the_table(data, capsys):
    _fit(*data, progress_callbacks(1), verbose=1)
    captured = capsys.readouterr()
    assert "train_loss" in captured.out and "\x1b" not in captured.out
    assert sys.stdout is not None
