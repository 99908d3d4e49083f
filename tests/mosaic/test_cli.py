"""The `mosaic` command line: help, choices from the library's tables, option errors."""

import pytest

from mosaic import cli
from mosaic.blend import MERGE_METHODS
from mosaic.params import FLAGGED_STYLES, RESAMPLINGS, TILE_FORMATS


def test_choices_follow_the_library_tables():
    assert cli._METHODS == tuple(MERGE_METHODS)
    assert cli._RESAMPLINGS == RESAMPLINGS
    assert cli._FORMATS == tuple(TILE_FORMATS)
    assert cli._FLAGGED == FLAGGED_STYLES


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
