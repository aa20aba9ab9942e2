"""Training figures (netspec.training.curves): a panel per metric, log-scale loss, a
learning-rate panel, the best epoch, chance and test values, and a y-range that a diverged
epoch cannot flatten."""

from __future__ import annotations

import math

import pytest

from netspec.training.curves import panel_of, plot_curves, plot_run, robust_limits
from netspec.training.rundir import RunDir

PNG = b"\x89PNG\r\n\x1a\n"


def _history(n=12, spike_at=None):
    """A classifier's epochs: the loss falling from 2 towards 0.3, accuracy rising to 0.95."""
    rows = []
    for e in range(1, n + 1):
        loss = 0.3 + 1.7 * math.exp(-0.4 * (e - 1))
        rows.append({"epoch": e, "lr": 1e-3 * (1 - e / (n + 1)), "train_loss": loss * 1.1,
                     "val_loss": loss, "train_accuracy": 0.95 - 0.6 * math.exp(-0.5 * e),
                     "val_accuracy": 0.93 - 0.6 * math.exp(-0.5 * e), "time": 0.5})
    if spike_at is not None:
        rows[spike_at - 1].update(train_loss=1e6, val_loss=float("nan"))
    return rows


def test_a_run_gets_a_panel_per_metric_with_best_epoch_chance_and_test(tmp_path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_json("data.json", {"task": "classification", "labels": list("0123456789")})
    run.write_json("summary.json", {"best": {"epoch": 9, "value": 0.4},
                                    "test": {"loss": 0.42, "accuracy": 0.91}})
    curves = plot_run(run, _history())
    assert run.file("curves.png").read_bytes().startswith(PNG)
    assert [p.name for p in curves.panels] == ["loss", "accuracy", "lr"]
    loss, accuracy, lr = curves.panels
    assert loss.log and not accuracy.log and not lr.log
    assert [s[0] for s in loss.series] == ["train", "val"]
    # the chance level (1/10) and the test value are inside the ranges they are drawn in
    assert accuracy.ylim[0] < 0.1 < accuracy.ylim[1]
    assert loss.ylim[0] < 0.42 < loss.ylim[1]


def test_a_diverged_epoch_does_not_flatten_the_rest(tmp_path):
    curves = plot_curves(_history(20, spike_at=14), tmp_path / "c.png", best_epoch=10)
    loss = curves.panel("loss")
    assert loss.ylim[1] < 5, loss.ylim          # not 1e6: the bulk (0.3..2.2) stays readable
    assert loss.ylim[0] < 0.3
    assert loss.clipped == 2                    # the spike and the NaN, marked on the edge
    assert curves.panel("accuracy").clipped == 0


def test_the_first_epochs_of_a_fast_learner_are_data_not_spikes(tmp_path):
    rows = [{"epoch": e, "val_accuracy": a} for e, a in
            enumerate([0.3, 0.9, 0.96, 0.97, 0.98, 0.98, 0.985, 0.99, 0.99, 0.99], 1)]
    accuracy = plot_curves(rows, tmp_path / "c.png").panel("accuracy")
    assert accuracy.ylim[0] < 0.3 and accuracy.clipped == 0


def test_other_tasks_columns_make_their_own_panels(tmp_path):
    rows = [{"epoch": e, "lr": 2e-4, "d_loss": 0.7 - 0.01 * e, "g_loss": 2.0 + 0.1 * e,
             "fid": 300.0 / e, "note": "text is not plotted"} for e in range(1, 6)]
    curves = plot_curves(rows, tmp_path / "gan.png", log_keys={"loss", "fid"})
    assert [p.name for p in curves.panels] == ["loss", "fid", "lr"]
    assert curves.panel("loss").series == (("d", "d_loss"), ("g", "g_loss"))
    assert curves.panel("fid").log
    assert (tmp_path / "gan.png").read_bytes().startswith(PNG)


def test_a_log_panel_with_a_non_positive_value_stays_linear(tmp_path):
    rows = [{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": -0.1}]
    assert not plot_curves(rows, tmp_path / "c.png").panel("loss").log


def test_one_epoch_and_no_epochs(tmp_path):
    curves = plot_curves(_history(1), tmp_path / "one.png", best_epoch=1)
    assert len(curves.panels) == 3 and all(lo < hi for lo, hi in
                                           (p.ylim for p in curves.panels))
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    assert plot_run(run, []) is None and not run.file("curves.png").exists()


@pytest.mark.parametrize("column,where", [
    ("train_loss", ("loss", "train")), ("val_top5", ("top5", "val")),
    ("test_accuracy", ("accuracy", "test")), ("d_loss", ("loss", "d")), ("fid", ("fid", "fid")),
    ("lr", ("lr", "lr")), ("epoch", None), ("time", None),
])
def test_columns_map_to_panels(column, where):
    assert panel_of(column) == where


def test_robust_limits_keep_what_must_stay_visible():
    # a spike beyond the bulk is cut, but a kept value (chance, test) never is
    lo, hi = robust_limits([[0.5, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 50.0, 0.4]], keep=[3.0])
    assert 3.0 < hi < 50
    assert robust_limits([[None, float("inf")]]) == (0.0, 1.0)
