"""Safe access to products packed as .zip archives.

Products are never extracted: rasters are read in place through GDAL's ``/vsizip/`` file system and small XML
members through :mod:`zipfile`. Before anything is read the member list is checked, and an archive is refused
(:class:`~l2a.errors.UnsafeArchiveError`) when any entry would leave its folder (absolute path, ``..``, drive
letter), is a link, or declares a size or compression ratio that only a zip bomb has; it is refused as unreadable
(:class:`~l2a.errors.UnreadableArchiveError`) when an entry is encrypted or compressed by another method than stored
or DEFLATE (the only two ``/vsizip/`` decodes: LZMA, bzip2, Deflate64 or AES entries would fail in the middle of a
read), and (:class:`~l2a.errors.RasterKindError`) when a folder inside is named like a product file.
"""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from l2a.errors import MissingFileError, NotAProductError, UnreadableArchiveError, UnsafeArchiveError
from l2a.io.members import check_folder_name

__all__ = ["ZipIndex", "open_zip_index", "MAX_MEMBER_BYTES", "MAX_COMPRESSION_RATIO", "MAX_MEMBERS", "READABLE_METHODS"]

#: Largest uncompressed member accepted, bytes (a 10980 x 10980 int16 band is 241 MB raw).
MAX_MEMBER_BYTES = 4 * 1024**3
#: Largest uncompressed / compressed ratio accepted for big members (DEFLATE of real imagery stays below ~20).
MAX_COMPRESSION_RATIO = 200
#: Most members accepted in one archive.
MAX_MEMBERS = 20000
#: Compression methods GDAL's /vsizip/ decodes (stored, DEFLATE).
READABLE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_METHOD_NAMES = {9: "Deflate64", 12: "bzip2", 14: "LZMA", 93: "Zstandard", 95: "xz", 98: "PPMd", 99: "AES encryption"}
#: Bit 0 of an entry's general-purpose flags: the entry is encrypted.
_ENCRYPTED_FLAG = 0x1


@dataclass(frozen=True)
class ZipIndex:
    """Checked member list of a product archive.

    Attributes
    ----------
    path : str
        Absolute path of the .zip file.
    names : tuple of str
        Member names (files only, POSIX separators, no trailing slash).
    """

    path: str
    names: tuple[str, ...]

    def vsi(self, member: str) -> str:
        """GDAL path of a member (``/vsizip/{archive}/{member}``)."""
        return f"/vsizip/{self.path}/{member}"

    def read_bytes(self, member: str, limit: int = 64 * 1024 * 1024) -> bytes:
        """Content of a (small) member, refusing to inflate past ``limit`` bytes whatever its header says."""
        if member not in self.names:
            raise MissingFileError(f"no member {member} in archive", self.path)
        try:
            with zipfile.ZipFile(self.path) as zf, zf.open(member) as f:
                data = f.read(limit + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
            # corrupt data (bad CRC, broken DEFLATE stream), or an archive changed since it was indexed
            raise UnreadableArchiveError(f"cannot read member {member}: {' '.join(str(exc).split())[:200]}",
                                         self.path) from exc
        except FileNotFoundError as exc:
            raise MissingFileError("archive not found", self.path) from exc
        if len(data) > limit:
            raise UnsafeArchiveError(f"member {member} inflates past {limit} bytes", self.path)
        return data


def _check_member(info: zipfile.ZipInfo, archive: str) -> None:
    name = info.filename
    p = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in p.parts:
        raise UnsafeArchiveError(f"entry {name!r} would extract outside the target folder", archive)
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UnsafeArchiveError(f"entry {name!r} is a symbolic link", archive)
    if info.file_size > MAX_MEMBER_BYTES:
        raise UnsafeArchiveError(f"entry {name!r} declares {info.file_size} bytes (limit {MAX_MEMBER_BYTES})", archive)
    if info.file_size > 1024 * 1024 and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
        raise UnsafeArchiveError(f"entry {name!r} has a compression ratio typical of a zip bomb", archive)
    if info.flag_bits & _ENCRYPTED_FLAG:
        raise UnreadableArchiveError(f"entry {name!r} is encrypted", archive)
    if info.compress_type not in READABLE_METHODS:
        method = _METHOD_NAMES.get(info.compress_type, "unknown")
        raise UnreadableArchiveError(f"entry {name!r} uses compression method {info.compress_type} ({method}); only "
                                     "stored and DEFLATE entries can be read in place", archive)


def _check_folders(names: list[str], archive: str) -> None:
    """Refuse folders named like product files, whether listed as entries or implied by member paths."""
    folders = set()
    for name in names:
        parts = name.rstrip("/").split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        if name.endswith("/"):
            folders.add(name.rstrip("/"))
    for folder in sorted(folders):
        check_folder_name(folder, f"{archive}/{folder}")


def open_zip_index(path: str | os.PathLike) -> ZipIndex:
    """Open a .zip product archive and check every member (see module docstring).

    Raises
    ------
    NotAProductError
        If the file is not a zip archive.
    UnsafeArchiveError
        If any member is unsafe.
    UnreadableArchiveError
        If any member is encrypted or compressed by a method ``/vsizip/`` cannot decode.
    RasterKindError
        If a folder inside is named like a product file.
    """
    archive = os.path.abspath(os.fspath(path))
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise NotAProductError(f"not a valid .zip archive ({exc})", archive) from exc
    except FileNotFoundError as exc:
        raise MissingFileError("archive not found", archive) from exc
    if len(infos) > MAX_MEMBERS:
        raise UnsafeArchiveError(f"archive holds {len(infos)} entries (limit {MAX_MEMBERS})", archive)
    total = 0
    for info in infos:
        _check_member(info, archive)
        total += info.file_size
    if total > 16 * MAX_MEMBER_BYTES:
        raise UnsafeArchiveError(f"archive inflates to {total} bytes", archive)
    _check_folders([i.filename.replace("\\", "/") for i in infos], archive)
    names = tuple(i.filename.replace("\\", "/") for i in infos if not i.is_dir())
    return ZipIndex(archive, names)
