"""The `mosaic` command line: help, choices from the library's tables, option errors."""

import subprocess
import sys

import pytest

from mosaic import blend, cli, params


def test_every_merge_method_of_the_table_has_a_rule():
    assert tuple(blend.MERGE_METHODS) == params.MERGE_METHODS


def test_help_loads_nothing_heavy():
    code = ("import sys; from mosaic.cli import main\n"
            "try:\n    main(['build', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('scipy', 'shapely', 'numba', 'morecantile', 'l3a') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().endswith("[]")


@pytest.mark.parametrize("command", ["build", "tiles"])
def test_help_states_units(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    if command == "build":
        assert "CRS units" in out and "--feather" in out and ", m." in out
    else:
        assert "reflectance" in out and "0-24" in out


@pytest.mark.parametrize("args", [["build", "x", "--crs", "EPSG:2154", "--res", "10", "--out", "o", "--method", "max"],
                                  ["build", "x", "--crs", "EPSG:2154", "--res", "-1", "--out", "o"],
                                  ["tiles", "m.tif", "--out", "o", "--zoom", "5-13", "--format", "jpeg"],
                                  ["tiles", "m.tif", "--out", "o", "--zoom", "5-13", "--gamma", "0"],
                                  ["tiles", "m.tif", "--out", "o", "--zoom", "5-13", "--rgb", "B4,B3"]])
def test_option_errors_exit_2(tmp_path, monkeypatch, capsys, args):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("mosaic: error: ") and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
