"""Files on the operator's machine (`render --out`, `import --out`, a peer's `file:`, `wgsites qr`'s files), written
so that another local user can neither read them nor redirect them.

A fixed temporary name (`x.wgsites-new`) or an open without O_EXCL follows whatever another user
planted there first: a symbolic link to their own file receives the private key. So a file is
written to a fresh random name made with O_EXCL and O_NOFOLLOW (tempfile.mkstemp), then renamed
into place; and only into a folder nobody else can write, because in one that others can write
they may swap the file between two steps, or plant a key file that a render would then reuse.

A folder is safe when it is owned by you (or root) and writable only by you: by its group only
when that group is your own private group (Debian's and Ubuntu's user private groups, whose
default umask 002 leaves folders group-writable). The folders above it must be owned by you or
root and not writable by others unless sticky (/tmp): a sticky folder lets nobody else rename
or remove the entries you own, so the path down to the folder stays yours. The folder itself
gets no sticky exception: others could still plant names inside it.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from wgsites.stack.errors import ConfigError

from .render import is_rendered_by_wgsites


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _private_group(gid: int) -> bool:
    """GID is the current user's own group: no other member, nobody else's primary group."""
    uid = os.getuid()
    try:
        group = grp.getgrgid(gid)
    except KeyError:
        return False
    me = _owner(uid)
    if set(group.gr_mem) - {me}:
        return False
    return gid == os.getgid() and not any(p.pw_gid == gid and p.pw_uid != uid for p in pwd.getpwall())


def _writable_by_others(st: os.stat_result) -> str | None:
    """Who besides the owner may write a folder with ST, in words; None when nobody."""
    if st.st_mode & stat.S_IWOTH:
        return "every user"
    if st.st_mode & stat.S_IWGRP and not _private_group(st.st_gid):
        try:
            name = grp.getgrgid(st.st_gid).gr_name
        except KeyError:
            name = f"gid {st.st_gid}"
        return f"the members of group {name}"
    return None


def folder_problem(folder: Path) -> str | None:
    """Why FOLDER (an existing folder) is no safe place for the operator's files, with the fix; None when it is."""
    uid = os.getuid()
    real = Path(os.path.realpath(folder))
    try:
        st = os.stat(real)
    except OSError as exc:
        return f"cannot be read ({exc.strerror}); give a folder of yours"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a folder; give a folder"
    if st.st_uid not in (uid, 0):
        return f"belongs to {_owner(st.st_uid)}, not to you; pick a folder of your own (e.g. under {Path.home()})"
    if who := _writable_by_others(st):
        return f"is writable by {who}, who could plant or swap files in it; chmod go-w {real}, or pick a folder of yours alone"
    for parent in real.parents:
        pst = os.stat(parent)
        if pst.st_uid not in (uid, 0):
            return f"is inside {parent}, which belongs to {_owner(pst.st_uid)}, who could swap it; pick a folder of your own"
        if (who := _writable_by_others(pst)) and not pst.st_mode & stat.S_ISVTX:
            return f"is inside {parent}, writable by {who}, who could swap it; chmod go-w {parent}, or pick another folder"
    return None


def nearest_folder(path: Path) -> Path:
    """The folder PATH would be created in: its nearest existing parent (a `file:` creates the missing ones)."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_folder(folder: Path, key: str) -> None:
    """ConfigError naming KEY when FOLDER is no safe place for the operator's files."""
    if why := folder_problem(folder):
        raise ConfigError([f"{key}: the folder {str(folder)!r} {why}"])


def write_file(path: Path, content: str | bytes, mode: int, key: str, replace: bool = True) -> None:
    """CONTENT into PATH (MODE), by a fresh O_EXCL|O_NOFOLLOW temporary name renamed into place; REPLACE=False
    never replaces an existing PATH (a hard link fails when the name is taken). The folder must exist and be safe."""
    folder = path.parent
    check_folder(folder, key)
    data = content.encode() if isinstance(content, str) else content
    try:
        _write_new(path, data, mode, key, replace)
    except OSError as exc:
        raise ConfigError([f"{key}: cannot write {str(path)!r} ({exc.strerror}); free it or name another place"]) from None


def _write_new(path: Path, data: bytes, mode: int, key: str, replace: bool) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # O_EXCL, O_NOFOLLOW, 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), mode)
        if replace:
            os.replace(tmp, path)  # replaces a symlink at PATH itself, never what it points to
        else:
            try:
                os.link(tmp, path, follow_symlinks=False)
            except FileExistsError:
                raise ConfigError([f"{key}: {str(path)!r} exists; it is never overwritten, name another"]) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def read_own_secret(path: Path, key: str) -> str | None:
    """The text of a key file at PATH to reuse: None when there is none; ConfigError unless it is your own
    regular 0600 file (not a link): a key file someone else planted would make the configs trust their key."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        why = "is a symbolic link" if exc.errno == errno.ELOOP else f"cannot be read ({exc.strerror})"
        raise ConfigError([_not_reused(path, key, why)]) from None
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            why = "is not a regular file"
        elif st.st_uid != os.getuid():
            why = f"belongs to {_owner(st.st_uid)}"
        elif stat.S_IMODE(st.st_mode) != 0o600:
            why = f"has mode {stat.S_IMODE(st.st_mode):04o}"
        else:
            return handle.read(4096).decode("utf-8", "replace")
    raise ConfigError([_not_reused(path, key, why)])


def _not_reused(path: Path, key: str, why: str) -> str:
    return (
        f"{key}: the key file {str(path)!r} {why}; a key is reused only from your own 0600 file: "
        "if you did not make it, remove it (a new key is made), else chown it to you and chmod 600 it"
    )


def write_tree(out: Path, files: Mapping[str, tuple[str | bytes, int]], key: str) -> None:
    """FILES (relative path -> content, mode) under the folder OUT. A new OUT is filled as a temporary folder
    beside it and renamed into place at the end, so a failure leaves nothing; in an existing OUT each file
    is written by write_file. Folders are made 0700."""
    if not out.exists():
        check_folder(out.parent, key)
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))  # 0700
        try:
            _fill(staging, files, key)
            os.rename(staging, out)  # fails if OUT appeared meanwhile: nothing of it is touched
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return
    check_folder(out, key)
    for name in files:  # every folder and every name checked before the first file is written
        for folder in (out / name).relative_to(out).parents[:-1]:
            if (out / folder).exists():
                check_folder(out / folder, key)
        if (out / name).exists() and not (out / name).is_symlink() and not (out / name).is_file():
            raise ConfigError([f"{key}: {str(out / name)!r} is there and is not a file; move it away, or name another folder"])
    _fill(out, files, key)


def _fill(root: Path, files: Mapping[str, tuple[str | bytes, int]], key: str) -> None:
    for name, (content, mode) in files.items():
        path = root / name
        for folder in reversed(path.relative_to(root).parents[:-1]):
            with contextlib.suppress(FileExistsError):
                os.mkdir(root / folder, 0o700)
        write_file(path, content, mode, key)


def file_target_problem(path: str) -> str | None:
    """Why a peer's `file:` PATH may not be written, with the fix; None when it may. `check` and the program
    both ask: wgsites replaces only a config it wrote (not a typo such as /etc/resolv.conf, nor a user's own
    config), never through a link, and only in a folder nobody else can write."""
    target = Path(path).expanduser()
    fix = "wgsites replaces only its own configs: pick another path or move that file"
    if target.is_symlink():
        return f"is a symbolic link; {fix}"
    if target.exists():
        if not target.is_file():
            return f"exists and is not a file; {fix}"
        try:
            with target.open(encoding="utf-8", errors="replace") as handle:
                if not is_rendered_by_wgsites(handle.readline()):
                    return f"exists and was not written by wgsites; {fix}"
        except OSError as exc:
            return f"cannot be read ({exc.strerror}); pick another path"
    folder = nearest_folder(target)
    if why := folder_problem(folder):
        return f"would be written in the folder {str(folder)!r}, which {why}"
    return None
