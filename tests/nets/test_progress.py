"""Progress callbacks: plain lines in a log, colour and bars on a terminal."""

import io
import pickle
import sys

import numpy as np
import pytest
from skorch.callbacks import ProgressBar

from ltsk.nets import MLP, BBNClassifier, LongTailNetClassifier
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


# --------------------------------------------------------------------- #
# the nets' own default callbacks (no callbacks= given)
# --------------------------------------------------------------------- #
def _default_fit(X, y, cls=LongTailNetClassifier, **params):
    return cls(
        MLP,
        module__hidden_units=(8,),
        max_epochs=3,
        batch_size=16,
        random_state=0,
        **params,
    ).fit(X, y)


@pytest.mark.parametrize("cls", [LongTailNetClassifier, BBNClassifier])
def test_default_log_is_plain_lines_when_stdout_is_a_file(data, monkeypatch, cls):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    net = _default_fit(*data, cls=cls, verbose=1)
    text = stream.getvalue()
    assert "\x1b" not in text  # no ANSI codes in a log
    rows = [line.split() for line in text.splitlines()[2:]]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    assert isinstance(dict(net.callbacks_)["print_log"], PlainPrintLog)
    assert "progress_bar" not in dict(net.callbacks_)
    pickle.loads(pickle.dumps(net))  # the sink does not hold the stream


def test_default_on_a_terminal_draws_a_bar_and_colours(data, monkeypatch):
    out, err = _Terminal(), _Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    net = _default_fit(*data, verbose=1)
    assert "\x1b[" in out.getvalue()  # skorch's coloured best values
    assert isinstance(dict(net.callbacks_)["progress_bar"], ProgressBar)
    assert "0/4" in err.getvalue()  # a tqdm bar over the 4 batches of an epoch


@pytest.mark.parametrize("cls", [LongTailNetClassifier, BBNClassifier])
def test_default_verbose_zero_is_silent_on_a_terminal(data, monkeypatch, cls):
    out, err = _Terminal(), _Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    _default_fit(*data, cls=cls, verbose=0)
    assert out.getvalue() == err.getvalue() == ""


def test_print_log_can_still_be_switched_off(data, monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    _default_fit(*data, verbose=1, callbacks__print_log=None)
    assert stream.getvalue() == ""


def test_progress_bar_flag_adds_one_bar(data, monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Terminal())
    monkeypatch.setattr(sys, "stdout", _Terminal())
    net = _default_fit(*data, verbose=1, progress_bar=True)
    names = [name for name, _ in net.callbacks_]
    assert names.count("progress_bar") == 1
