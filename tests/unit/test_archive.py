"""Layer tars: deterministic writing, safe extraction of hostile archives."""

import io
import os
import tarfile

import pytest

from bb.archive.changes import Change, ChangeKind, tree_changes
from bb.archive.extract import Whiteouts, extract_tar
from bb.archive.layer_tar import write_layer_tar
from bb.archive.securejoin import clean_relative, resolve_in_root
from bb.errors import ArchiveError


def test_resolve_in_root_clamps_symlinks(tmp_path):
    root = tmp_path / "root"
    (root / "usr" / "lib").mkdir(parents=True)
    os.symlink("usr/lib", root / "lib")
    os.symlink("/../../../etc", root / "escape")
    os.symlink("../../..", root / "usr" / "up")
    assert resolve_in_root(str(root), "lib/x") == str(root / "usr" / "lib" / "x")
    assert resolve_in_root(str(root), "/escape/passwd") == str(root / "etc" / "passwd")
    assert resolve_in_root(str(root), "usr/up/etc") == str(root / "etc")
    assert resolve_in_root(str(root), "lib", follow_final=False) == str(root / "lib")
    os.symlink("loop", root / "loop")
    with pytest.raises(ArchiveError, match="too many levels"):
        resolve_in_root(str(root), "loop/x")


def test_clean_relative():
    assert clean_relative("/a/./b//c/") == "a/b/c"
    with pytest.raises(ArchiveError):
        clean_relative("a/../../b")


def make_tar(*members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    buffer.seek(0)
    return buffer


def entry(name, kind=tarfile.REGTYPE, data=b"", linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    if kind == tarfile.REGTYPE:
        info.size = len(data)
    return info, data if kind == tarfile.REGTYPE else None


@pytest.mark.parametrize(
    "members",
    [
        [entry("../outside", data=b"x")],
        [entry("a/../../outside", data=b"x")],
        [entry("link", tarfile.LNKTYPE, linkname="../../etc/passwd")],
    ],
)
def test_hostile_entries_are_refused(tmp_path, members):
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(ArchiveError):
        extract_tar(make_tar(*members), str(root), Whiteouts.APPLY)
    assert not (tmp_path / "outside").exists()


def test_absolute_names_and_symlinks_stay_inside(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    members = [
        entry("/abs", data=b"abs"),
        entry("out", tarfile.SYMTYPE, linkname=str(outside)),
        entry("out/written", data=b"through the link"),
    ]
    extract_tar(make_tar(*members), str(root), Whiteouts.APPLY)
    assert (root / "abs").read_bytes() == b"abs"
    assert not (outside / "written").exists()
    assert (root / str(outside).lstrip("/") / "written").read_bytes() == b"through the link"


def test_overlay_xattrs_from_tar_are_dropped(tmp_path):
    info, data = entry("d", tarfile.DIRTYPE)
    info.pax_headers = {"SCHILY.xattr.trusted.overlay.opaque": "y", "SCHILY.xattr.user.ok": "1"}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info)
    buffer.seek(0)
    root = tmp_path / "root"
    root.mkdir()
    extract_tar(buffer, str(root), Whiteouts.OVERLAY)
    assert "trusted.overlay.opaque" not in os.listxattr(root / "d")
    assert os.getxattr(root / "d", "user.ok") == b"1"


def test_writer_is_deterministic_and_adds_ancestors(tmp_path):
    root = tmp_path / "tree"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "file").write_text("content")
    os.link(root / "a" / "b" / "file", root / "a" / "hardlink")
    changes = [
        Change("a/b/file", ChangeKind.ADD),
        Change("a/hardlink", ChangeKind.ADD),
        Change("gone", ChangeKind.DELETE),
    ]
    outputs = []
    for _ in range(2):
        buffer = io.BytesIO()
        write_layer_tar(buffer, str(root), changes)
        outputs.append(buffer.getvalue())
    assert outputs[0] == outputs[1]
    tar = tarfile.open(fileobj=io.BytesIO(outputs[0]))
    members = tar.getmembers()
    assert [m.name for m in members] == ["a", "a/b", "a/b/file", "a/hardlink", ".wh.gone"]
    assert members[3].islnk() and members[3].linkname == "a/b/file"
    assert all(m.uname == "" for m in members)


def test_tree_changes_naive(tmp_path):
    parent, child = tmp_path / "parent", tmp_path / "child"
    for root in (parent, child):
        (root / "same").mkdir(parents=True)
        (root / "same" / "f").write_text("f")
        os.utime(root / "same" / "f", (1, 1))
        os.utime(root / "same", (1, 1))
    (parent / "deleted").write_text("x")
    (child / "added").write_text("y")
    os.chmod(child / "same" / "f", 0o600)
    os.utime(child / "same" / "f", (1, 1))
    changes = {c.path: c.kind for c in tree_changes(str(child), str(parent))}
    assert changes == {
        "added": ChangeKind.ADD,
        "deleted": ChangeKind.DELETE,
        "same/f": ChangeKind.MODIFY,
    }


def summary(root):
    """(type, mode, owner, mtime, size, user/trusted xattrs) of every entry below `root`."""
    result = {}
    for current, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(current, name)
            info = os.lstat(path)
            xattrs = {
                n: os.getxattr(path, n, follow_symlinks=False)
                for n in os.listxattr(path, follow_symlinks=False)
            }
            result[os.path.relpath(path, root)] = (
                info.st_mode,
                info.st_uid,
                info.st_gid,
                info.st_mtime_ns,
                info.st_size,
                xattrs,
            )
    return result


def test_extract_reusing_the_source_tree_equals_a_copy(tmp_path):
    source = tmp_path / "source"
    (source / "dir").mkdir(parents=True)
    (source / "dir" / "plain").write_text("plain")
    (source / "dir" / "tagged").write_text("tagged")
    os.setxattr(source / "dir" / "tagged", "user.note", b"kept")
    # overlayfs's copy-up marker: not in the tar, so the link must lose it
    (source / "overlay-marked").write_text("marked")
    os.setxattr(source / "overlay-marked", "trusted.overlay.origin", b"x")
    # a metacopy file's data is in a lower layer: never linked
    (source / "metacopy").write_text("")
    os.setxattr(source / "metacopy", "trusted.overlay.metacopy", b"")
    (source / "setuid").write_text("s")
    os.chmod(source / "setuid", 0o4755)
    os.link(source / "dir" / "plain", source / "hard")
    os.utime(source / "dir" / "plain", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    buffer = io.BytesIO()
    write_layer_tar(buffer, str(source), tree_changes(str(source), None))
    copied, reused = tmp_path / "copied", tmp_path / "reused"
    for root, reuse in ((copied, None), (reused, str(source))):
        root.mkdir()
        buffer.seek(0)
        extract_tar(buffer, str(root), Whiteouts.OVERLAY, reuse_files_from=reuse)
    assert summary(reused) == summary(copied)
    assert os.stat(reused / "dir" / "plain").st_ino == os.stat(source / "dir" / "plain").st_ino
    assert os.stat(reused / "hard").st_ino == os.stat(source / "dir" / "plain").st_ino
    assert os.stat(reused / "dir" / "tagged").st_ino == os.stat(source / "dir" / "tagged").st_ino
    assert os.stat(reused / "overlay-marked").st_ino == os.stat(source / "overlay-marked").st_ino
    assert os.listxattr(reused / "overlay-marked") == []
    assert os.stat(reused / "metacopy").st_ino != os.stat(source / "metacopy").st_ino
