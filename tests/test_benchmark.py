import io
import json
import runpy
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from ltsk.benchmark import (
    DATASETS,
    TAU_GRID,
    choose_tau,
    load_protocol,
    run_benchmark,
)
from ltsk.benchmark._cli import build_parser, main
from ltsk.benchmark._methods import (
    _VARIANT_HEADS,
    MISLAS_SMOOTHING,
    WB_STAGE1_DECAY,
    WB_STAGE2_DECAYS,
    _bbn_lr_factor,
    _drw_start,
    _head_methods,
    _joint_variants,
    _mislas_head,
    _mislas_smoothing,
    _weight_balancing_head,
)
from ltsk.benchmark._run import _make_net, _variant_heads
from ltsk.heads import (
    HEADS,
    CRTHead,
    DisAlignHead,
    LogitAdjustedHead,
    LWSHead,
    MARCHead,
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
    "DisAlign",
    "MARC",
    "Joint + focal (gamma=2)",
    "Joint + class-balanced",
    "Joint + LA loss (tau=1)",
    "LDAM-DRW",
    "Joint, q=0 (class-balanced)",
    "Joint, q=1/2 (square-root)",
    "Joint, progressively balanced",
    "Joint + mixup (alpha=1)",
    "MiSLAS (mixup net, cRT + label-aware smoothing)",
    "Joint + Remix (kappa=3, tau=0.5)",
    "BBN",
    "BBN (official lr steps)",
    "Weight balancing, stage 1 (WD 5e-3)",
    "Weight balancing (cRT + WD + MaxNorm)",
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


def test_bbn_lr_factor_is_the_official_recipe_at_200_epochs():
    # WarmupMultiStepLR(milestones=[120, 160], gamma=0.01, warmup_epochs=5,
    # warmup_factor=1/3), stepped at the start of each 1-based epoch e:
    # 1/3 (1 - e/5) + e/5 for e < 5, then 1, 0.01 from 120, 1e-4 from 160.
    factors = [_bbn_lr_factor(k, 200) for k in range(200)]
    expected = [1 / 3 * (1 - e / 5) + e / 5 for e in range(1, 5)]
    expected += [1.0] * 115 + [0.01] * 40 + [1e-4] * 41
    np.testing.assert_allclose(factors, expected, rtol=1e-12)


def test_bbn_lr_factor_scales_to_short_runs():
    # 30 epochs: the warm-up (5/200 of training) rounds to none; the decays
    # fall at epochs 18 and 24 (60% and 80%).
    factors = [_bbn_lr_factor(k, 30) for k in range(30)]
    np.testing.assert_allclose(factors, [1.0] * 17 + [0.01] * 6 + [1e-4] * 7)


def test_only_the_official_steps_bbn_row_leaves_the_cosine_schedule():
    from ltsk.benchmark._run import _make_net

    protocol = load_protocol("digits-lt")
    for name, params in _joint_variants(protocol.epochs):
        net = _make_net(protocol, seed=0, **params)
        names = [cb_name for cb_name, _ in net.callbacks]
        if name == "BBN (official lr steps)":
            assert names[0] == "lr_factor"
            lr_lambda = net.callbacks[0][1].kwargs["lr_lambda"]
            assert [lr_lambda(k) for k in (16, 17, 23)] == [1.0, 0.01, 1e-4]
        else:
            assert names[0] == "cosine"


def test_head_rows_come_from_the_mapping_in_table_order():
    methods = _head_methods(HEADS)
    assert [name for name, _ in methods] == EXPECTED_METHODS[1:8]
    kinds = [
        CRTHead,
        NCMHead,
        LWSHead,
        TauNormHead,
        LogitAdjustedHead,
        DisAlignHead,
        MARCHead,
    ]
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


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, as a console's stderr does."""

    def isatty(self):
        return True


def _progress_of(stream, epochs=3, **kwargs):
    protocol = load_protocol("digits-lt", seed=0)
    protocol.epochs = epochs
    run_benchmark(protocol, methods="decoupled", stream=stream, **kwargs)
    return stream.getvalue()


def test_progress_in_a_log_is_one_plain_line_per_method():
    text = _progress_of(io.StringIO())
    assert "\x1b" not in text and "\r" not in text  # no ANSI codes, no bar
    lines = text.splitlines()
    assert all(line.startswith("[") for line in lines)
    # the joint net: one line when trained, none per epoch
    trained = [line for line in lines if "Joint (CE, q=1)" in line]
    assert len(trained) == 1 and "3 epochs in" in trained[0]
    assert not any("epoch 1/" in line for line in lines)
    for name, _ in _head_methods(HEADS):
        assert sum(f"stage 2: {name}" in line for line in lines) == 1


def test_progress_on_a_terminal_draws_an_epoch_bar():
    text = _progress_of(_Terminal())
    bar = [part for part in text.split("\r") if "Joint (CE, q=1)" in part]
    # tqdm redraws the bar in place (carriage returns) up to 3/3 epochs
    assert any("3/3" in part and "epoch" in part for part in bar)
    assert any("1/3" in part for part in bar)
    assert "3 epochs in" in text


def test_progress_false_is_silent():
    assert _progress_of(_Terminal(), epochs=1, progress=False) == ""


def test_header_states_the_imbalance_summary():
    from dataclasses import replace

    from ltsk.benchmark import load_protocol, run_benchmark
    from ltsk.metrics import imbalance_summary

    protocol = replace(load_protocol("digits-lt"), epochs=1)
    results = run_benchmark(protocol, methods="decoupled", progress=False)
    summary = imbalance_summary(protocol.y_train)
    assert results["protocol"]["imbalance"] == summary
    assert f"Gini {summary['gini']:.3f}" in results["title"]
    assert f"imbalance ratio {summary['imbalance_ratio']:.1f}" in results["title"]


@pytest.mark.parametrize(
    ("n_classes", "ratio", "expected"),
    [
        (10, 20, (0.1, 0.0)),  # digits-LT: CIFAR-10-LT, rho=10
        (10, 100, (0.3, 0.0)),  # Fashion-MNIST-LT, CIFAR-10-LT
        (26, 100, (0.3, 0.0)),  # letter-LT: 26 is closer to 10 than to 100
        (7, 5684.7, (0.3, 0.0)),  # shuttle: beyond 100, the rho=100 values
        (100, 100, (0.4, 0.1)),  # CIFAR-100-LT
        (50, 40, (0.3, 0.0)),  # closer to 100 classes and to rho=50
    ],
)
def test_mislas_smoothing_is_the_closest_official_setting(n_classes, ratio, expected):
    assert _mislas_smoothing(n_classes, ratio) == expected
    assert expected in MISLAS_SMOOTHING.values()


def test_mislas_head_is_class_balanced_crt_with_the_smoothing():
    y = np.repeat(np.arange(10), np.linspace(100, 1, 10).astype(int))  # rho=100
    head = _mislas_head(None, y)
    assert isinstance(head, CRTHead)
    assert (head.q, head.smooth_head, head.smooth_tail) == (0.0, 0.3, 0.0)


class _Net:
    """What the weight-balancing builder reads of a stage-1 net."""

    def __init__(self, coef):
        self.coef_ = coef


def test_weight_balancing_head_converts_the_decay_and_the_radius():
    y = np.array(["a"] * 6 + ["b"] * 3 + ["c"] * 1)
    coef = np.array([[3.0, 4.0], [0.0, 1.0], [6.0, 8.0]])  # norms 5, 1, 10
    head = _weight_balancing_head(_Net(coef), y)
    # class weights 1/n_j scaled to sum to C = 3: (1/6, 1/3, 1) * 3 / 1.5
    w = np.array([1 / 6, 1 / 3, 1.0]) * 2.0
    per_sample = 6 * w[0] + 3 * w[1] + 1 * w[2]  # = 2 + 2 + 2 = 6
    np.testing.assert_allclose(head.alpha, 0.1 * 10 / per_sample)
    np.testing.assert_allclose(head.max_norm, 1 + 0.1 * (10 - 1))
    assert head.q == 0.0


def test_variant_heads_follow_an_existing_variant():
    names = [name for name, _ in _joint_variants(10)]
    for variant, heads in _VARIANT_HEADS.items():
        assert variant in names
        # the second stages sit right after their first stage in the table
        position = EXPECTED_METHODS.index(variant)
        following = EXPECTED_METHODS[position + 1 : position + 1 + len(heads)]
        assert following == [row_name for row_name, *_ in heads]


def test_weight_balancing_stage1_uses_its_decay_and_no_maxnorm():
    from ltsk.nets import MaxNorm

    protocol = load_protocol("digits-lt", seed=0)
    protocol.epochs = 1
    params = dict(_joint_variants(1))["Weight balancing, stage 1 (WD 5e-3)"]
    net = _make_net(protocol, seed=0, **params)
    assert net.optimizer__weight_decay == WB_STAGE1_DECAY != protocol.weight_decay
    # the other variants keep the protocol's decay
    assert _make_net(protocol, seed=0).optimizer__weight_decay == (
        protocol.weight_decay
    )
    net.fit(protocol.X_train, protocol.y_train)
    # MaxNorm belongs to the second stage only (the official recipe): a radius
    # set from freshly initialised, near-equal row norms would cap every row.
    assert not any(isinstance(cb, MaxNorm) for _, cb in net.callbacks_)

    rows = _variant_heads(
        protocol, "Weight balancing, stage 1 (WD 5e-3)", net, lambda m: None
    )
    assert [row["method"] for row in rows] == ["Weight balancing (cRT + WD + MaxNorm)"]
    assert rows[0]["kind"] == "decoupled"
    # the stage-2 weight decay is the first of the best on validation, and the
    # row scores that head on the test split (balanced accuracy)
    F_train, F_val, F_test = (
        net.transform(X) for X in (protocol.X_train, protocol.X_val, protocol.X_test)
    )
    val_scores, test_scores = [], []
    for decay in WB_STAGE2_DECAYS:
        head = _weight_balancing_head(net, protocol.y_train, decay=decay)
        head.fit(F_train, protocol.y_train)
        val_scores.append(balanced_accuracy_score(protocol.y_val, head.predict(F_val)))
        test_scores.append(
            balanced_accuracy_score(protocol.y_test, head.predict(F_test))
        )
    best = int(np.argmax(val_scores))
    assert rows[0]["chosen"] == {"decay": WB_STAGE2_DECAYS[best]}
    np.testing.assert_allclose(rows[0]["all"], test_scores[best], rtol=1e-12)
