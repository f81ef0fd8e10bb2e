"""Bad input gets one clear line and exit code 1; usage errors exit 2; --help explains every command."""

import pytest

from iqabench.cli import COMMANDS


def _one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_unknown_method_suggests_close_names(cli):
    r = cli("run", "--method", "brisqe", "--protocol", "within_dataset", "--dataset", "demo")
    assert r.code == 1
    line = _one_line(r.err)
    assert "unknown method 'brisqe'" in line and "'brisque'" in line


def test_unknown_dataset_and_protocol(cli):
    r = cli("run", "-m", "brisque", "-p", "within_dataset", "-d", "kadid10")
    assert r.code == 1 and "unknown dataset 'kadid10'" in _one_line(r.err)
    r = cli("run", "-m", "brisque", "-p", "within_datset", "-d", "demo")
    assert r.code == 1 and "unknown protocol 'within_datset'" in _one_line(r.err) and "within_dataset" in r.err


def test_missing_data_root(cli, tmp_path):
    missing = tmp_path / "nowhere"
    r = cli("run", "-m", "brisque", "-p", "within_dataset", "-d", "demo", "--data-root", str(missing))
    assert r.code == 1 and str(missing) in _one_line(r.err) and "data root" in r.err


def test_missing_weights_file(cli, tmp_path):
    missing = tmp_path / "ARNIQA.pth"
    r = cli("run", "-m", "niqe", "-p", "within_dataset", "-d", "demo", "--weights", str(missing))
    assert r.code == 1 and str(missing) in _one_line(r.err) and "weights file" in r.err


def test_weights_for_a_method_that_takes_none(cli, tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"x")
    r = cli("run", "-m", "brisque", "-p", "within_dataset", "-d", "demo", "--weights", str(f))
    assert r.code == 1 and "takes no --weights" in _one_line(r.err)


def test_bad_option_names_the_option(cli):
    r = cli("run", "-m", "brisque", "-p", "within_dataset", "-d", "demo", "--method-option", "colour=1")
    assert r.code == 1 and "has no option 'colour'" in _one_line(r.err)
    r = cli("run", "-m", "brisque", "-p", "within_dataset", "-d", "demo", "--protocol-option", "nalphas")
    assert r.code == 1 and "KEY=VALUE" in _one_line(r.err)


def test_usage_errors_exit_2(cli):
    assert cli("run", "--method", "brisque").code == 2
    assert cli("list", "things").code == 2
    assert cli("no-such-command").code == 2


def test_debug_shows_traceback(cli):
    with pytest.raises(Exception, match="unknown method"):
        cli("--debug", "run", "-m", "nope", "-p", "within_dataset", "-d", "demo")


def _all_commands():
    import click

    from iqabench.cli import cli as root

    ctx = click.Context(root)
    out = []

    def walk(cmd, path):
        out.append((" ".join(path), cmd))
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), [*path, name])

    for name in sorted(COMMANDS):
        walk(root.get_command(ctx, name), [name])
    return out


@pytest.mark.parametrize("path,command", _all_commands(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_command_and_option_is_explained(cli, path, command):
    r = cli(*path.split(), "--help")
    assert r.code == 0 and "Usage:" in r.out
    assert (command.help or "").strip(), f"'{path}' has no help text"
    for param in command.params:
        if param.param_type_name == "option" and param.name != "help":
            assert (param.help or "").strip(), f"option {param.opts} of '{path}' has no help text"


def test_list_shows_descriptions(cli):
    r = cli("list", "methods")
    assert r.code == 0
    names = {line.split()[0] for line in r.out.splitlines()}
    assert {"brisque", "niqe"} <= names
    assert all(len(line.split(None, 1)) == 2 for line in r.out.splitlines())
    r = cli("list", "protocols")
    assert "within_dataset" in r.out
