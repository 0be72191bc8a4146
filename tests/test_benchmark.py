import json
import runpy
from pathlib import Path

import numpy as np
import pytest

from ltsk.benchmark import (
    DATASETS,
    TAU_GRID,
    choose_tau,
    load_protocol,
    run_benchmark,
)
from ltsk.benchmark._cli import build_parser, main
from ltsk.benchmark._methods import _drw_start, _head_methods
from ltsk.heads import (
    HEADS,
    CRTHead,
    LogitAdjustedHead,
    LWSHead,
    NCMHead,
    TauNormHead,
)

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

EXPECTED_METHODS = [
    "Joint (CE, q=1)",
    "cRT",
    "NCM",
    "LWS",
    "tau-norm",
    "LA post-hoc",
    "Joint + focal (gamma=2)",
    "Joint + class-balanced",
    "Joint + LA loss (tau=1)",
    "LDAM-DRW",
    "Joint, q=0 (class-balanced)",
    "Joint, q=1/2 (square-root)",
    "Joint, progressively balanced",
    "Joint + mixup (alpha=1)",
    "Joint + Remix (kappa=3, tau=0.5)",
    "BBN",
    "BalancedRandomForest (raw)",
]


def test_tau_grid_is_zero_to_two_in_steps_of_a_tenth():
    assert len(TAU_GRID) == 21
    np.testing.assert_allclose(TAU_GRID, np.arange(21) / 10)


def test_unknown_dataset_lists_the_known_ones(capsys):
    with pytest.raises(SystemExit) as excinfo:
        build_parser().parse_args(["--dataset", "imagenet-lt"])
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    for name in DATASETS:
        assert name in err


def test_load_protocol_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"known datasets: .*digits-lt"):
        load_protocol("imagenet-lt")


@pytest.mark.parametrize(
    "argv", [["--imbalance-ratio", "0.5"], ["--epochs", "0"], ["--epochs", "x"]]
)
def test_bad_numbers_are_rejected(argv, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    assert "argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    "dataset, expected",
    [
        ("letter-lt", "letter-recognition.data"),
        ("shuttle", "shuttle.trn"),
        ("fashion-mnist-lt", "train-images-idx3-ubyte.gz"),
    ],
)
def test_missing_files_give_a_message_naming_the_path(
    dataset, expected, tmp_path, capsys
):
    code = main(["--dataset", dataset, "--data-home", str(tmp_path), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert expected in err
    assert str(tmp_path) in err
    assert "Traceback" not in err


def test_digits_protocol_splits_are_disjoint_and_balanced():
    protocol = load_protocol("digits-lt", seed=0)
    train_counts = np.array(list(protocol.train_counts.values()))
    assert train_counts.max() / train_counts.min() >= 15
    for y in (protocol.y_val, protocol.y_test):
        _, counts = np.unique(y, return_counts=True)
        assert counts.max() - counts.min() <= 1
    rows = {
        name: {r.tobytes() for r in X}
        for name, X in [
            ("train", protocol.X_train),
            ("val", protocol.X_val),
            ("test", protocol.X_test),
        ]
    }
    # digits has a few duplicated images; the splits must not share more.
    assert len(rows["val"] & rows["test"]) <= 2
    assert len(rows["train"] & rows["test"]) <= 2
    assert protocol.X_train.dtype == np.float32
    assert protocol.X_train.max() <= 1.0


def test_choose_tau_picks_the_best_validation_score(rng):
    F_train = rng.normal(size=(300, 4))
    y_train = np.repeat([0, 1, 2], [200, 80, 20])
    F_train[np.arange(300), y_train] += 2.0
    F_val = rng.normal(size=(90, 4))
    y_val = np.repeat([0, 1, 2], 30)
    F_val[np.arange(90), y_val] += 2.0
    value, head, scores = choose_tau(TauNormHead(), F_train, y_train, F_val, y_val)
    assert len(scores) == len(TAU_GRID)
    assert scores[TAU_GRID.index(value)] == max(scores)
    assert head.tau == value
    refit = TauNormHead(tau=value).fit(F_train, y_train)
    np.testing.assert_array_equal(head.predict(F_val), refit.predict(F_val))


def test_choices_never_depend_on_the_test_labels():
    protocol = load_protocol("digits-lt", seed=0)
    protocol.epochs = 2
    first = run_benchmark(protocol, methods="decoupled", progress=False)
    protocol.y_test = np.random.default_rng(0).permutation(protocol.y_test)
    second = run_benchmark(protocol, methods="decoupled", progress=False)
    chosen = [[row["chosen"] for row in r["rows"]] for r in (first, second)]
    assert chosen[0] == chosen[1]
    assert any(c for c in chosen[0])


def test_end_to_end_one_epoch(tmp_path, capsys):
    out, plot = tmp_path / "results.json", tmp_path / "figure.png"
    code = main(["--epochs", "1", "--out", str(out), "--plot", str(plot), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    results = json.loads(out.read_text())
    assert [row["method"] for row in results["rows"]] == EXPECTED_METHODS
    for row in results["rows"]:
        assert row["method"] in printed
        assert 0.0 <= row["all"] <= 1.0
        assert row["fit_seconds"] >= 0.0
    assert results["protocol"]["dataset"] == "digits-lt"
    assert results["protocol"]["n_val"] + results["protocol"]["n_test"] > 0
    assert "machine" in results
    assert plot.stat().st_size > 10_000


@pytest.mark.parametrize(("epochs", "expected"), [(1, 0), (2, 1), (10, 8), (200, 160)])
def test_drw_switches_at_four_fifths_of_training(epochs, expected):
    # Cao et al. switch at epoch 160 of 200; a short run still switches before
    # its last epoch.
    assert _drw_start(epochs) == expected


def test_head_rows_come_from_the_mapping_in_table_order():
    methods = _head_methods(HEADS)
    assert [name for name, _ in methods] == EXPECTED_METHODS[1:6]
    kinds = [CRTHead, NCMHead, LWSHead, TauNormHead, LogitAdjustedHead]
    assert [type(head) for _, head in methods] == kinds
    # every head with its defaults: class-balanced cRT and LWS
    assert methods[0][1].q == 0.0
    assert methods[2][1].q == 0.0


def test_head_rows_follow_the_mapping_given():
    class OtherHead(TauNormHead):
        pass

    methods = _head_methods({"other": OtherHead, "ncm": NCMHead, "crt": CRTHead})
    assert [name for name, _ in methods] == ["cRT", "NCM", "other"]
    assert type(methods[2][1]) is OtherHead


def test_the_command_has_no_speed_option(capsys):
    # speed measurement is development tooling: benchmarks/bench_speed.py
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--speed"])
    assert "unrecognized arguments: --speed" in capsys.readouterr().err
    assert "--speed" not in build_parser().format_help()


@pytest.fixture
def bench_speed(monkeypatch):
    """``benchmarks/bench_speed.py``'s namespace (benchmarks/ is no package)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return runpy.run_path(str(BENCHMARKS / "bench_speed.py"))


def test_speed_tool_reference_stage2_is_the_same_sgd_on_cached_features(
    bench_speed,
):
    from ltsk.nets import MLP, LongTailNetClassifier

    protocol = load_protocol("digits-lt", seed=0)
    X, y = protocol.X_train, protocol.y_train
    net = LongTailNetClassifier(MLP, max_epochs=1, random_state=0).fit(X, y)
    F = net.transform(X)
    mode = net.module_.backbone.training
    reference_stage2 = bench_speed["reference_stage2"]
    runs = [
        reference_stage2(net, X, y, F, kind="lws", epochs=2, features=features)
        for features in (None, F)
    ]
    assert all(seconds > 0 for seconds, _ in runs)
    # the backbone runs in eval mode, as in transform, and gets its mode back
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert len(np.unique(runs[0][1])) > 1
    assert net.module_.backbone.training == mode
