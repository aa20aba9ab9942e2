"""`netspec train` and `netspec eval`: thin click commands over netspec.train. torch is imported
inside the callbacks only, so `netspec --help` stays fast."""

from __future__ import annotations

import sys

import click

from netspec.cli.variants import check_run_choice, spec_choice_options


@click.command("train")
@click.argument("spec", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--epochs", type=click.IntRange(1), help="Epochs to train (overrides the spec).")
@click.option("--batch-size", type=click.IntRange(1), help="Samples per batch (per process).")
@click.option("--global-batch", type=click.IntRange(1), metavar="N",
              help="Samples per step over all processes: each takes N / processes "
                   "(train.global_batch; instead of --batch-size).")
@click.option("--lr", type=click.FloatRange(0, min_open=True), help="Learning rate.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where to train; auto: CUDA when available.")
@click.option("--seed", type=int, help="Seed for initial weights, shuffling, dropout.")
@click.option("--out", type=click.Path(file_okay=False), help="Parent of run directories "
              "(default: runs).")
@click.option("--resume", type=click.Path(exists=True), metavar="RUN_DIR",
              help="Continue RUN_DIR from its last checkpoint (SPEC is not needed).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@spec_choice_options
def train_command(spec, epochs, batch_size, global_batch, lr, device, seed, out, resume, quiet,
                  variant, settings) -> None:
    """Train SPEC from its `train:` section; flags override it.

    \b
      netspec train specs/lenet5.yaml
      netspec train specs/mlp.yaml --epochs 5 --lr 0.01 --seed 1
      netspec train --resume runs/lenet5/latest
      netspec train specs/resnet.yaml --variant resnet34 --set train.epochs=3
      torchrun --nproc-per-node 2 -m netspec train specs/mlp.yaml     (DDP; rank 0 writes)
      torchrun --nproc-per-node 4 -m netspec train specs/mlp.yaml --global-batch 256

    Under torchrun --batch-size is per process: N processes learn from N x batch samples a
    step (the line "batch 64 per process × 2 processes = 128 per step" says so);
    --global-batch keeps the step's batch fixed at any number of processes.

    Writes runs/<name>/<n>/: spec.yaml, train.json, data.json, metrics.csv, curves.png,
    best/last checkpoints (safetensors) and summary.json. Exit status 1 when the spec or data
    is wrong, or when training diverged (loss NaN). The run's spec.yaml holds the params
    the variant and --set chose: --resume, eval and export of the run need neither again.
    """
    if spec is None and resume is None:
        raise click.UsageError("give a SPEC to train, or --resume RUN_DIR")
    if spec is not None and resume is not None:
        click.echo(f"note: resuming {resume} with the spec it was trained from (its spec.yaml);"
                   f" {spec} is not read", err=True)
        spec = None
    from netspec.training.session import train

    if batch_size is not None and global_batch is not None:
        raise click.UsageError("give --batch-size (per process) or --global-batch (over all "
                               "processes), not both")
    if global_batch is not None:
        import os

        from netspec.training.distributed import global_batch_hint, global_batch_problem

        world = int(os.environ.get("WORLD_SIZE", "1"))      # torchrun sets it
        problem = global_batch_problem(global_batch, world)
        if problem:
            raise click.BadParameter(f"{problem}; {global_batch_hint(world)}",
                                     param_hint="'--global-batch'")
    overrides = {"epochs": epochs, "batch_size": batch_size, "global_batch": global_batch,
                 "lr": lr, "device": device, "seed": seed, "out": out}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if resume is not None:
        # the run is one network: only its train keys may change, as the flags do
        for path, value in check_run_choice(resume, variant, settings).items():
            if len(path) > 1:
                raise click.BadParameter(f"a resumed run takes top-level train keys, not "
                                         f"train.{'.'.join(path)}", param_hint="'--set'")
            overrides.setdefault(path[0], value)
    elif variant is not None or settings:
        from netspec.graph.load import load

        spec = load(spec, variant=variant, settings=settings)
    try:
        run = train(spec, resume=resume, quiet=quiet, **overrides)
    except KeyboardInterrupt as stop:
        where = getattr(stop, "run", None) or resume
        again = f"`netspec train --resume {where}`" if where else "a new `netspec train`"
        click.echo(f"interrupted; continue with {again}", err=True)
        sys.exit(130)
    if run.status == "diverged":
        if quiet:                   # the diagnosis is the error message: say it anyway
            for d in run.diagnoses:
                click.echo(d.render(), err=True)
        sys.exit(1)


@click.command("eval")
@click.argument("run_dir", type=click.Path(exists=True))
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test",
              show_default=True, help="Which split of the run's data to evaluate on.")
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best",
              show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
@click.option("--similarity", type=click.Path(), default=None,
              help="Word embeddings (skipgram/cbow runs): Spearman correlation with the human "
                   "judgements of FILE.tsv (word1<TAB>word2<TAB>score, as WordSim353).")
@click.option("--confusion", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Classification runs: also draw the confusion matrix as a heat map to FILE "
                   "(.png, .svg or .pdf), counts in the cells.")
@spec_choice_options
def eval_command(run_dir, split, checkpoint, device, as_json, similarity, confusion, variant,
                 settings) -> None:
    """Evaluate a trained run's checkpoint on a split of its data (loss and metrics).

    \b
      netspec eval runs/lenet5/latest
      netspec eval runs/lenet5/3 --split val --checkpoint last --json
      netspec eval runs/lenet5/latest --confusion lenet5_confusion.png
      netspec eval runs/word2vec_skipgram/latest --similarity wordsim353.tsv

    A classification run also prints its confusion matrix: rows the true class, columns the
    predicted one, each class's recall and precision (`--json`: under "confusion", as
    {"labels": [...], "matrix": [[...]]}).

    The run's spec.yaml rebuilds the variant it was trained as: --variant and --set are not
    needed, and one that differs from the run is refused.
    """
    import json

    if check_run_choice(run_dir, variant, settings):
        raise click.BadParameter("eval uses the run's own train section; set train keys when "
                                 "training", param_hint="'--set'")

    if confusion is not None:
        _check_figure_path(confusion, "--confusion")
        if similarity is not None:
            raise click.BadParameter("a confusion matrix is of a classification run; "
                                     "--similarity scores word embeddings",
                                     param_hint="'--confusion'")
    if similarity is not None:
        from netspec.training.similarity import evaluate_similarity

        result = evaluate_similarity(run_dir, similarity, checkpoint=checkpoint, device=device)
        if as_json:
            click.echo(json.dumps(result, indent=2))
            return
        click.echo(f"{result['run']} ({result['checkpoint']}) on {result['file']}: Spearman "
                   f"{result['spearman']:.4f} over {result['pairs']} pairs "
                   f"({result['oov_pairs']} skipped: a word not in the vocabulary)")
        return

    from netspec.training.evaluate import evaluate_run

    if confusion is not None:
        from netspec.safe_write import check_output

        check_output(confusion, "the confusion matrix")     # before the evaluation runs
    result = evaluate_run(run_dir, split=split, checkpoint=checkpoint, device=device)
    matrix = result.get("confusion")
    if confusion is not None:
        if matrix is None:
            raise click.BadParameter(f"{result['run']} is not a classification run: it has no "
                                     "confusion matrix", param_hint="'--confusion'")
        from netspec.training.confusion import plot_confusion

        accuracy = result["metrics"].get("accuracy")
        plot_confusion(matrix["labels"], matrix["matrix"], confusion,
                       title=f"{result['run']} ({checkpoint}) on {split}"
                       + (f": accuracy {accuracy:.1%}" if accuracy is not None else ""))
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    from netspec.training.progress import format_value

    click.echo(f"{result['run']} ({checkpoint}) on {split}: {result['samples']} samples")
    for name, value in result["metrics"].items():
        click.echo(f"  {name:<12} {format_value(name, value)}")
    if matrix is not None:
        from netspec.training.confusion import confusion_table

        click.echo("\nconfusion matrix (rows: the true class, columns: the predicted one)")
        click.echo(confusion_table(matrix["labels"], matrix["matrix"]))
    if confusion is not None:
        click.echo(f"\nwrote {confusion}")


def _check_figure_path(path: str, option: str) -> None:
    from pathlib import Path

    if Path(path).suffix.lower() not in (".png", ".svg", ".pdf"):
        raise click.BadParameter(f"{path!r}: the suffix picks the format, one of .png, .svg, "
                                 ".pdf", param_hint=f"'{option}'")
