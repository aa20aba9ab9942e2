"""`--variant NAME` and `--set NAME=VALUE`, as every command that reads a spec takes them.

    @spec_choice_options            # adds `variant` and `settings` to the command's arguments
    def check(spec, ..., variant, settings): load(spec, variant=variant, settings=settings)

A `--set` that is not NAME=VALUE is refused when the flags are read; an unknown variant or
param, or a value that does not suit its param, when the spec is read (OverrideError): both are
usage errors, exit 2. A run directory is one network: a command given a run takes the variant
it was trained as, and a `--variant` or param `--set` that differs is refused, saying which.
"""

from __future__ import annotations

import click


def _settings(ctx, param, values: tuple[str, ...]):
    from netspec.lang.settings import OverrideError, parse_setting

    try:
        return tuple(parse_setting(v) for v in values)
    except OverrideError as err:
        raise click.BadParameter(str(err), ctx, param) from None


def spec_choice_options(command):
    """Add `--variant` and `--set` (repeatable) to a click command."""
    command = click.option(
        "--set", "settings", multiple=True, metavar="NAME=VALUE", callback=_settings,
        help="Set a param of the spec's `params:` (depth=34), or a key of its train: section "
             "(train.lr=0.01); the value is YAML. Repeatable; wins over --variant.")(command)
    return click.option(
        "--variant", metavar="NAME", default=None,
        help="Use the params of one of the spec's `variants:`.")(command)


def usage_error(err) -> click.BadParameter:
    """An OverrideError as the usage error it is (exit 2), naming the option."""
    return click.BadParameter(err.message + (f"; {err.hint}" if err.hint else ""),
                              param_hint=f"'{err.option}'")


def check_run_choice(run_path, variant: str | None, settings: tuple) -> dict:
    """For a command given a run directory: refuse a `--variant` other than the one the run
    was trained as and a param `--set` to a value other than the run's; the `train.*` keys
    set, {key path: value}, are returned for the caller to apply (training's overrides)."""
    from netspec.training.rundir import RunDir, resolve_run

    if variant is None and not settings:
        return {}
    run = RunDir(resolve_run(run_path))
    record = run.read_json("run.json") if run.file("run.json").is_file() else {}
    trained = record.get("variant")
    if variant is not None and variant != trained:
        as_what = f"variant {trained!r}" if trained else "the spec's own params (no variant)"
        raise click.BadParameter(f"{run.path} was trained as {as_what}, not {variant!r}",
                                 param_hint="'--variant'") from None
    spec = run.read_spec()
    train_keys = {}
    for s in settings:
        if len(s.path) > 1:
            train_keys[s.path[1:]] = s.value
        elif s.name not in spec.params:
            known = ", ".join(spec.params) or "none"
            raise click.BadParameter(f"the run's spec has no param {s.name!r} (params: {known})",
                                     param_hint="'--set'")
        elif spec.params[s.name] != s.value:
            raise click.BadParameter(
                f"{run.path} was trained with {s.name}={spec.params[s.name]!r}, not "
                f"{s.value!r}: the checkpoint holds that network; train a new run for "
                f"another", param_hint="'--set'")
    return train_keys
