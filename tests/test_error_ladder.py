"""The error ladder (DESIGN §6): every rung prints as one compiler-style message with its hint and
exits 1; SpecError is only for what is located in a YAML file; anything else is a bug."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import netspec.report
from netspec.cli.main import main
from netspec.errors import (Diagnostic, InputError, Location, NetspecError, SetupError,
                            SpecError, VerifyError)

SPEC = "input: [4]\nlayers:\n  - linear: 2\n"


@pytest.mark.parametrize("rung", [SpecError, InputError, SetupError, VerifyError])
def test_every_rung_is_a_netspec_error_printed_alike(rung):
    err = rung("the thing is wrong", Location("a.yaml", 3, 5), hint="do this instead",
               notes=("a fact",))
    assert isinstance(err, NetspecError)
    assert err.render() == ("a.yaml:3:5: error: the thing is wrong\n  a fact\n"
                            "  hint: do this instead")
    assert str(err) == err.render()
    assert err.first == Diagnostic("the thing is wrong", Location("a.yaml", 3, 5),
                                   "do this instead", ("a fact",))


def test_rungs_are_distinct():
    assert not issubclass(InputError, SpecError)
    assert not issubclass(SetupError, SpecError)
    assert not issubclass(VerifyError, SpecError)
    assert SpecError("x") != InputError("x")
    assert SpecError("x") == SpecError("x")


@pytest.mark.parametrize("rung", [SpecError, InputError, SetupError, VerifyError])
def test_the_cli_maps_every_rung_to_its_message_and_exit_1(rung, tmp_path, monkeypatch):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)

    def failing(*args, **kwargs):
        raise rung("it failed", hint="the way out")

    monkeypatch.setattr(netspec.report, "check", failing)
    res = CliRunner().invoke(main, ["check", str(spec)])
    assert res.exit_code == 1, res.output
    assert "error: it failed" in res.output and "hint: the way out" in res.output
    assert "Traceback" not in res.output


def test_several_diagnostics_are_counted(tmp_path, monkeypatch):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)

    def failing(*args, **kwargs):
        raise InputError([Diagnostic("first"), Diagnostic("second")])

    monkeypatch.setattr(netspec.report, "check", failing)
    res = CliRunner().invoke(main, ["check", str(spec)])
    assert res.exit_code == 1
    assert "error: first" in res.output and "error: second" in res.output
    assert "2 errors" in res.output


def test_a_bug_is_not_dressed_as_a_users_mistake(tmp_path, monkeypatch):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)

    def failing(*args, **kwargs):
        raise ZeroDivisionError("ours")

    monkeypatch.setattr(netspec.report, "check", failing)
    res = CliRunner().invoke(main, ["check", str(spec)])
    assert res.exit_code != 0 and isinstance(res.exception, ZeroDivisionError)


def test_a_missing_program_is_a_setup_error_with_how_to_get_it(tmp_path, monkeypatch):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    res = CliRunner().invoke(main, ["draw", str(spec), "-o", str(tmp_path / "s.svg")])
    assert res.exit_code == 1, res.output
    assert "error:" in res.output and "graphviz" in res.output.lower()
    assert (tmp_path / "s.dot").exists()
