"""l2a.io.atomic: outputs appear complete under their final name or not at all, one overwrite policy."""

import os
import stat

import pytest

from l2a.errors import ProductExistsError
from l2a.io.atomic import AtomicFolder, atomic_write_bytes, publish, temporary_sibling


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_folder_appears_only_when_published(tmp_path):
    folder = AtomicFolder(tmp_path / "out" / "PRODUCT")
    (folder.tmp / "MASKS").mkdir()
    (folder.tmp / "MASKS" / "a.tif").write_bytes(b"x")
    assert not folder.path.exists()
    assert folder.tmp.name.startswith(".PRODUCT.") and folder.tmp.parent == folder.path.parent
    assert folder.publish() == folder.path
    assert (folder.path / "MASKS" / "a.tif").read_bytes() == b"x"
    assert _names(tmp_path / "out") == ["PRODUCT"]
    assert folder.publish() == folder.path            # publishing twice is harmless


def test_folder_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with AtomicFolder(tmp_path / "P") as folder:
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(folder.path).st_mode) == 0o755


def test_existing_target_is_refused_without_overwrite(tmp_path):
    (tmp_path / "P").mkdir()
    with pytest.raises(ProductExistsError, match="P: already exists"):
        AtomicFolder(tmp_path / "P")
    assert _names(tmp_path) == ["P"]


def test_error_inside_the_block_leaves_nothing_and_keeps_the_old_product(tmp_path):
    (tmp_path / "P").mkdir()
    (tmp_path / "P" / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with AtomicFolder(tmp_path / "P", overwrite=True) as folder:
            (folder.tmp / "new.txt").write_text("new")
            raise RuntimeError("interrupted")
    assert _names(tmp_path) == ["P"] and _names(tmp_path / "P") == ["old.txt"]


def test_overwrite_replaces_the_old_product_on_publish(tmp_path):
    (tmp_path / "P").mkdir()
    (tmp_path / "P" / "old.txt").write_text("old")
    with AtomicFolder(tmp_path / "P", overwrite=True) as folder:
        (folder.tmp / "new.txt").write_text("new")
        assert _names(tmp_path / "P") == ["old.txt"]   # the old product stays readable while the new one is built
    assert _names(tmp_path) == ["P"] and _names(tmp_path / "P") == ["new.txt"]


def test_target_appearing_while_writing_is_an_error_and_cleans_up(tmp_path):
    folder = AtomicFolder(tmp_path / "P")
    (folder.tmp / "a").write_text("a")
    (tmp_path / "P").mkdir()                          # another process published the same product meanwhile
    with pytest.raises(ProductExistsError, match="appeared while it was being written"):
        folder.publish()
    assert _names(tmp_path) == ["P"] and _names(tmp_path / "P") == []


def test_atomic_write_bytes(tmp_path):
    target = tmp_path / "doc.xml"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two" and _names(tmp_path) == ["doc.xml"]
    with pytest.raises(ProductExistsError):
        atomic_write_bytes(target, b"three", overwrite=False)
    assert target.read_bytes() == b"two" and _names(tmp_path) == ["doc.xml"]


def test_publish_refuses_an_existing_target_and_leaves_the_temporary(tmp_path):
    (tmp_path / "tmp").write_bytes(b"new")
    (tmp_path / "target").write_bytes(b"old")
    with pytest.raises(ProductExistsError):
        publish(tmp_path / "tmp", tmp_path / "target")
    assert (tmp_path / "target").read_bytes() == b"old" and (tmp_path / "tmp").exists()


def test_output_below_a_regular_file_is_an_oserror_naming_the_path(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError) as info:
        AtomicFolder(tmp_path / "file" / "P")
    assert str(tmp_path / "file") in str(info.value)


@pytest.mark.parametrize("name", ["p" * 255, "é" * 127, "short"])
def test_temporary_sibling_of_any_valid_name_is_a_valid_name(tmp_path, name):
    tmp = temporary_sibling(tmp_path / name)
    assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.name.endswith(".tmp")
    assert len(os.fsencode(tmp.name)) <= 255
    assert temporary_sibling(tmp_path / name) != tmp  # unique
    atomic_write_bytes(tmp_path / name, b"x")  # the longest valid target can be written atomically
    assert (tmp_path / name).read_bytes() == b"x"
    assert [p.name for p in tmp_path.iterdir()] == [name]
