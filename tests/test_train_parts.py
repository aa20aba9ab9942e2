"""The training parts against independent references: losses vs torch, metrics vs scikit-learn,
schedules vs their formulas and torch's schedulers, augmentation, checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netspec.errors import VerifyError
from netspec.training import checkpoint
from netspec.training.augment import AUGMENTATIONS, Pipeline
from netspec.training.losses import LOSSES, build_loss
from netspec.training.metrics import METRICS, Tracker
from netspec.training.optim import OPTIMIZERS, SCHEDULES, Schedule, build_optimizer


def choice(registry, name, **args):
    return registry.choose(name, args, None, None, None)


# ---- losses ---------------------------------------------------------------------------------

torch.manual_seed(0)
LOGITS = torch.randn(6, 4)
CLASSES = torch.tensor([0, 3, 1, 1, 2, 0])
VALUES = torch.randn(6, 2)
TARGETS = torch.randn(6, 2)


@pytest.mark.parametrize("name, args, out, y, reference", [
    ("cross_entropy", {}, LOGITS, CLASSES, F.cross_entropy(LOGITS, CLASSES)),
    ("cross_entropy", {"label_smoothing": 0.1}, LOGITS, CLASSES,
     F.cross_entropy(LOGITS, CLASSES, label_smoothing=0.1)),
    ("nll", {}, LOGITS.log_softmax(1), CLASSES, F.nll_loss(LOGITS.log_softmax(1), CLASSES)),
    ("bce", {}, LOGITS.sigmoid(), CLASSES,
     F.binary_cross_entropy(LOGITS.sigmoid(), F.one_hot(CLASSES, 4).float())),
    ("bce_logits", {}, LOGITS[:, :1], CLASSES.clamp(max=1),
     F.binary_cross_entropy_with_logits(LOGITS[:, :1], CLASSES.clamp(max=1).float()[:, None])),
    ("kl", {}, LOGITS.log_softmax(1), CLASSES, F.cross_entropy(LOGITS, CLASSES)),  # KL = CE
    ("focal", {"gamma": 0.0}, LOGITS, CLASSES, F.cross_entropy(LOGITS, CLASSES)),  # gamma 0 = CE
    ("mse", {}, VALUES, TARGETS, F.mse_loss(VALUES, TARGETS)),
    ("mae", {}, VALUES, TARGETS, F.l1_loss(VALUES, TARGETS)),
    ("huber", {"delta": 0.5}, VALUES, TARGETS, F.huber_loss(VALUES, TARGETS, delta=0.5)),
    ("smooth_l1", {"beta": 0.5}, VALUES, TARGETS, F.smooth_l1_loss(VALUES, TARGETS, beta=0.5)),
    ("hinge", {}, LOGITS, CLASSES, torch.nn.MultiMarginLoss()(LOGITS, CLASSES)),
    ("hinge", {"margin": 2.0, "p": 2}, LOGITS, CLASSES,
     torch.nn.MultiMarginLoss(p=2, margin=2.0)(LOGITS, CLASSES)),
])
def test_losses_match_torch(name, args, out, y, reference):
    assert torch.allclose(build_loss(choice(LOSSES, name, **args))(out, y), reference, atol=1e-6)


def test_focal_down_weights_easy_samples_and_dice_is_zero_when_perfect():
    confident = torch.tensor([[10.0, -10.0], [-10.0, 10.0]])
    y = torch.tensor([0, 1])
    assert build_loss(choice(LOSSES, "focal"))(confident, y) < 1e-10
    assert build_loss(choice(LOSSES, "dice", smooth=0.0))(confident * 10, y) < 1e-6


# ---- metrics --------------------------------------------------------------------------------

def tracked(names, out, y, k=None, batches=3):
    tracker = Tracker([choice(METRICS, n) if isinstance(n, str) else n for n in names], k)
    for part in np.array_split(np.arange(len(y)), batches):
        idx = torch.from_numpy(part)
        tracker.update(out[idx], y[idx], torch.tensor(0.0))
    return tracker.result()


def test_classification_metrics_match_sklearn():
    from sklearn import metrics as skm

    g = torch.Generator().manual_seed(1)
    out, y = torch.randn(200, 5, generator=g), torch.randint(0, 5, (200,), generator=g)
    pred = out.argmax(1).numpy()
    got = tracked(["accuracy", "precision", "recall", "f1", choice(METRICS, "top_k", k=2)],
                  out, y, 5)
    yn = y.numpy()
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(yn, pred))
    assert got["precision"] == pytest.approx(skm.precision_score(yn, pred, average="macro"))
    assert got["recall"] == pytest.approx(skm.recall_score(yn, pred, average="macro"))
    assert got["f1"] == pytest.approx(skm.f1_score(yn, pred, average="macro"))
    assert got["top2"] == pytest.approx(skm.top_k_accuracy_score(yn, out.numpy(), k=2))


def test_regression_metrics_match_sklearn():
    from sklearn import metrics as skm

    g = torch.Generator().manual_seed(2)
    y = torch.randn(100, 1, generator=g)
    out = y + 0.3 * torch.randn(100, 1, generator=g)
    got = tracked(["mse", "mae", "r2"], out, y)
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, out))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, out))
    assert got["r2"] == pytest.approx(skm.r2_score(y, out))


def test_one_output_unit_is_thresholded():
    out = torch.tensor([[2.0], [-1.0], [0.5]])
    assert tracked(["accuracy"], out, torch.tensor([1, 0, 0]), 2, batches=1)["accuracy"] == \
        pytest.approx(2 / 3)


# ---- optimizers and schedules ----------------------------------------------------------------

@pytest.mark.parametrize("name, args, cls", [
    ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, torch.optim.SGD),
    ("adam", {"weight_decay": 1e-4}, torch.optim.Adam),
    ("adamw", {}, torch.optim.AdamW),
    ("rmsprop", {}, torch.optim.RMSprop),
    ("adagrad", {"lr": 0.05, "lr_decay": 1e-3}, torch.optim.Adagrad),
    ("adadelta", {"rho": 0.95}, torch.optim.Adadelta),
    ("nadam", {"momentum_decay": 2e-3}, torch.optim.NAdam),
    ("radam", {"betas": (0.8, 0.99)}, torch.optim.RAdam),
])
def test_optimizers_are_torchs(name, args, cls):
    opt = build_optimizer(choice(OPTIMIZERS, name, **args), [torch.nn.Parameter(torch.ones(2))])
    assert type(opt) is cls
    for key, value in args.items():
        assert opt.param_groups[0][key] == value


def run_schedule(name, epochs=10, steps=5, **args):
    """lr factor at the start of each epoch, as the loop applies it."""
    sched = Schedule(choice(SCHEDULES, name, **args), epochs)
    return [sched.factor(e) for e in range(epochs)]


@pytest.mark.parametrize("name, args, torch_sched", [
    ("step", {"step": 3, "gamma": 0.5},
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    ("multistep", {"milestones": [2, 5], "gamma": 0.1},
     lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[2, 5], gamma=0.1)),
    ("exponential", {"gamma": 0.9},
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)),
    ("cosine", {}, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10)),
    ("poly", {"power": 2.0},
     lambda o: torch.optim.lr_scheduler.PolynomialLR(o, total_iters=10, power=2.0)),
])
def test_epoch_schedules_match_torch(name, args, torch_sched):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0)
    sched, expected = torch_sched(opt), []
    for _ in range(10):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert run_schedule(name, **args) == pytest.approx(expected, abs=1e-9)


def test_warmup_onecycle_and_plateau():
    warm = Schedule(choice(SCHEDULES, "warmup", warmup=2), 10)
    assert [warm.factor(t) for t in (0, 1, 2, 5)] == pytest.approx([0.01, 0.505, 1, 1])
    one = Schedule(choice(SCHEDULES, "onecycle"), 10)
    assert one.factor(0) == pytest.approx(1 / 25) and one.factor(3) == pytest.approx(1.0)
    assert one.factor(10) == pytest.approx(1 / 25e4)
    plateau = Schedule(choice(SCHEDULES, "plateau", patience=1, factor=0.5), 10)
    for loss in (1.0, 0.9, 0.95, 0.95, 0.95):
        plateau.end_epoch({"val_loss": loss})
    assert plateau.factor(5) == 0.5


# ---- augmentation -----------------------------------------------------------------------------

IMAGES = torch.rand(8, 3, 12, 10)


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS.entries))
def test_augmentations_keep_shape_and_replay(name):
    pipe = Pipeline([choice(AUGMENTATIONS, name)])
    y = torch.arange(8)
    first = pipe(IMAGES, y, torch.Generator().manual_seed(3))
    again = pipe(IMAGES, y, torch.Generator().manual_seed(3))
    assert first[0].shape == IMAGES.shape
    assert torch.equal(first[0], again[0])
    assert (first[1] is None) == (not AUGMENTATIONS[name].meta.get("mixes"))


def test_flips_and_crops_do_what_they_say():
    g = torch.Generator().manual_seed(0)
    flipped = AUGMENTATIONS["hflip"].fn(IMAGES, choice(AUGMENTATIONS, "hflip", p=1.0).args, g)
    assert torch.equal(flipped, IMAGES.flip(-1))
    crop = AUGMENTATIONS["random_crop"].fn(IMAGES, choice(AUGMENTATIONS, "random_crop",
                                                          padding=0).args, g)
    assert torch.equal(crop, IMAGES)
    cut = AUGMENTATIONS["cutout"].fn(torch.ones(4, 1, 8, 8),
                                     choice(AUGMENTATIONS, "cutout", size=4).args, g)
    zeros = (cut == 0).flatten(1).sum(1)
    assert ((zeros > 0) & (zeros <= 16)).all()


# ---- checkpoints --------------------------------------------------------------------------

def test_checkpoint_round_trip_with_optimizer_state(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors, opt_state = checkpoint.optimizer_tensors(opt)
    checkpoint.write(tmp_path / "c.safetensors", {**model.state_dict(), **tensors},
                     {"epoch": 3, "optimizer": opt_state})
    loaded, state = checkpoint.read(tmp_path / "c.safetensors")
    assert state["epoch"] == 3 and (tmp_path / "c.json").exists()
    assert set(checkpoint.model_tensors(loaded)) == {"weight", "bias"}
    fresh = torch.optim.Adam(model.parameters(), lr=0.5)
    checkpoint.load_optimizer(fresh, loaded, state["optimizer"])
    a, b = opt.state_dict(), fresh.state_dict()
    assert a["param_groups"][0]["lr"] == b["param_groups"][0]["lr"] == 0.01
    assert all(torch.equal(a["state"][i][k], b["state"][i][k]) for i in a["state"]
               for k in a["state"][i])


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[:len(raw) // 2], "is damaged"),
    (lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]), "does not match the checksum"),
    (lambda raw: b"", "is damaged"),
    (lambda raw: b"\x05", "is damaged"),
    # the header stays JSON, but the run state inside it does not (a flipped `:`)
    (lambda raw: raw.replace(b'\\"epoch\\": 1', b'\\"epoch\\"; 1'), "state in the header"),
])
def test_damaged_checkpoints_are_refused_clearly(tmp_path, damage, message):
    path = tmp_path / "last.safetensors"
    checkpoint.write(path, {"w": torch.arange(100.0)}, {"epoch": 1})
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(VerifyError, match=message) as err:
        checkpoint.read(path)
    assert err.value.render().startswith(f"{path}:1:1: error: checkpoint last.safetensors")


def test_atomic_write_leaves_no_temp_files(tmp_path):
    checkpoint.atomic_write(tmp_path / "a.txt", "one")
    checkpoint.atomic_write(tmp_path / "a.txt", "two")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "two"


def test_each_registry_refuses_duplicates():
    with pytest.raises(RuntimeError, match="registered twice"):
        LOSSES.add("mse")(lambda a: None)
    assert math.isfinite(len(LOSSES.names()))


# ---- diagnostics (pure functions over the history) ------------------------------------------

def history(*rows):
    return [{"epoch": i + 1, **row} for i, row in enumerate(rows)]


def test_stuck_at_chance_names_the_likeliest_cause_first():
    from netspec.training import diagnostics as dg

    rows = history({"train_loss": 3e8, "val_accuracy": 0.1}, {"train_loss": 2.3,
                   "val_accuracy": 0.11}, {"train_loss": 2.3, "val_accuracy": 0.1})
    lr = dg.lr_far_above("adam", 10.0)
    d = dg.stuck_at_chance(rows, 0.1, 10, True, ["4", "8"], lr)
    assert d.message == ("accuracy is stuck at chance: 10.0% with 10 classes (guessing gives "
                         "10.0%); the network is not learning. The learning rate 10 is far above "
                         "the usual range for adam (1e-05 to 0.01). The training loss exploded "
                         "(3e+08 in epoch 1). Every unit of layers '4', '8' outputs zero (dead "
                         "ReLUs). The output is the same for every input.")
    assert d.hint == "lower the learning rate, e.g. `--lr 0.001`"
    assert dg.stuck_at_chance(rows[:2], 0.1, 10) is None                 # too early to say
    assert dg.stuck_at_chance(rows[:2], 0.1, 10, final=True) is not None
    assert dg.stuck_at_chance(history(*[{"val_accuracy": 0.3}] * 3), 0.1, 10) is None


@pytest.mark.parametrize("rows, kind", [
    (history({"train_accuracy": 0.99, "val_accuracy": 0.6}), "overfit"),
    (history({"train_accuracy": 0.9, "val_accuracy": 0.85}), None),
])
def test_overfitting(rows, kind):
    from netspec.training import diagnostics as dg

    d = dg.overfitting(rows)
    assert (d.kind if d else None) == kind


def test_over_confidence_and_softmax_before_cross_entropy():
    from netspec.training import diagnostics as dg

    rows = history(*({"val_loss": l, "val_accuracy": a} for l, a in
                     ((0.3, 0.90), (0.35, 0.91), (0.4, 0.92), (0.5, 0.93))))
    assert dg.over_confident(rows).kind == "overconfident"
    assert dg.over_confident(rows[:3]) is None
    assert dg.output_mismatch("cross_entropy", "logits", "softmax").hint.startswith(
        "drop the final softmax")
    assert dg.output_mismatch("nll", "log_probabilities", "log_softmax") is None


def test_threads_leave_busy_cores_alone(monkeypatch):
    import os

    from netspec.training.distributed import Context, pick_threads

    ctx = Context(0, 1, 0, torch.device("cpu"))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 0, 0))
    assert pick_threads(None, ctx) == 4 and pick_threads(3, ctx) == 3
    monkeypatch.setattr(os, "getloadavg", lambda: (2.6, 0, 0))
    assert pick_threads(None, ctx) == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 0, 0))
    assert pick_threads(None, ctx) == 1
