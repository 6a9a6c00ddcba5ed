"""bb copy and bb add: Docker COPY/ADD semantics."""

import os
import tarfile


def ls(bb, ctr, *paths):
    return bb(
        "run",
        ctr,
        "--",
        "sh",
        "-c",
        "ls -lnd " + " ".join(paths) + " | awk '{print $1, $3, $4, $NF}'",
    ).splitlines()


def test_copy_file_to_path_and_into_directory(bb, tmp_path):
    source = tmp_path / "hello.txt"
    source.write_text("hello\n")
    os.chmod(source, 0o640)
    os.utime(source, (1_600_000_000, 1_600_000_000))
    ctr = bb("from", "busybox")
    bb("copy", ctr, str(source), "/renamed")
    bb("copy", ctr, str(source), "/dir/")
    bb("copy", ctr, str(source), "/etc")
    assert (
        bb("run", ctr, "--", "cat", "/renamed", "/dir/hello.txt", "/etc/hello.txt")
        == "hello\nhello\nhello"
    )
    assert ls(bb, ctr, "/renamed") == ["-rw-r----- 0 0 /renamed"]
    assert bb("run", ctr, "--", "stat", "-c", "%Y", "/renamed") == "1600000000"


def test_copy_directory_copies_contents(bb, tmp_path):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a").write_text("a")
    (tree / "sub" / "b").write_text("b")
    os.symlink("a", tree / "link")
    ctr = bb("from", "busybox")
    bb("copy", ctr, str(tree), "/app")
    assert (
        bb("run", ctr, "--", "sh", "-c", "cd /app && find . | sort")
        == ".\n./a\n./link\n./sub\n./sub/b"
    )
    assert bb("run", ctr, "--", "readlink", "/app/link") == "a"


def test_copy_relative_destination_uses_workingdir(bb, tmp_path):
    (tmp_path / "f").write_text("f")
    ctr = bb("from", "busybox")
    bb("config", "--workingdir", "/srv", ctr)
    bb("copy", ctr, str(tmp_path / "f"), "data/")
    assert bb("run", ctr, "--", "cat", "/srv/data/f") == "f"


def test_copy_globs_and_multiple_sources(bb, tmp_path):
    for name in ("one.txt", "two.txt", "skip.md"):
        (tmp_path / name).write_text(name)
    ctr = bb("from", "busybox")
    bb("copy", ctr, str(tmp_path / "*.txt"), "/texts/")
    assert bb("run", ctr, "--", "ls", "/texts") == "one.txt\ntwo.txt"
    error = bb.fails("copy", ctr, str(tmp_path / "one.txt"), str(tmp_path / "two.txt"), "/notadir")
    assert "must be a directory and end with a /" in error


def test_copy_chown_and_chmod(bb, tmp_path):
    (tmp_path / "f").write_text("f")
    ctr = bb("from", "busybox")
    bb("copy", "--chown", "nobody:nogroup", "--chmod", "0700", ctr, str(tmp_path / "f"), "/owned")
    bb("copy", "--chown", "1234", ctr, str(tmp_path / "f"), "/numeric")
    assert ls(bb, ctr, "/owned") == ["-rwx------ 65534 65534 /owned"]
    assert ls(bb, ctr, "/numeric") == ["-rw-r--r-- 1234 1234 /numeric"]
    assert "not found" in bb.fails("copy", "--chown", "nosuchuser", ctr, str(tmp_path / "f"), "/x")
    assert "--chmod" in bb.fails("copy", "--chmod", "99z", ctr, str(tmp_path / "f"), "/x")


def test_copy_missing_source_and_unknown_container(bb, tmp_path):
    ctr = bb("from", "busybox")
    error = bb.fails("copy", ctr, str(tmp_path / "missing"), "/x")
    assert "missing" in error and "no such file" in error
    assert 'container "nope" not known' in bb.fails("copy", "nope", str(tmp_path), "/x")


def test_copy_from_image_and_container(bb):
    ctr = bb("from", "scratch")
    bb("copy", "--from", "busybox", ctr, "/etc/passwd", "/passwd")
    other = bb("from", "busybox")
    bb("run", other, "--", "sh", "-c", "echo made > /made")
    bb("copy", "--from", other, ctr, "/made", "/made")
    busybox = bb("from", "busybox")
    bb("copy", "--from", ctr, busybox, "/passwd", "/made", "/got/")
    assert bb("run", busybox, "--", "cat", "/got/made") == "made"
    assert bb("run", busybox, "--", "head", "-c", "4", "/got/passwd") == "root"


def test_add_extracts_archives_copy_does_not(bb, tmp_path):
    content = tmp_path / "content"
    (content / "inner").mkdir(parents=True)
    (content / "inner" / "file").write_text("inside")
    archive = tmp_path / "archive.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(content, arcname=".")
    ctr = bb("from", "busybox")
    bb("add", ctr, str(archive), "/unpacked")
    assert bb("run", ctr, "--", "cat", "/unpacked/inner/file") == "inside"
    bb("copy", ctr, str(archive), "/copied.tar.gz")
    assert bb("run", ctr, "--", "sh", "-c", "test -f /copied.tar.gz && echo file") == "file"
    assert "not supported" in bb.fails("add", ctr, "https://example.com/x.tar", "/")


def test_add_refuses_archive_escaping_destination(bb, tmp_path):
    import io

    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("../../escape")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    ctr = bb("from", "busybox")
    assert "escapes" in bb.fails("add", ctr, str(archive), "/deep/dir/")
    assert bb.run("run", ctr, "--", "test", "-e", "/escape", check=False).returncode == 1


def test_copy_does_not_follow_container_symlinks_out(bb, tmp_path):
    (tmp_path / "f").write_text("payload")
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "ln", "-s", "/../../../../tmp", "/sneaky")
    bb("copy", ctr, str(tmp_path / "f"), "/sneaky/landed")
    assert bb("run", ctr, "--", "cat", "/tmp/landed") == "payload"
    assert not os.path.exists("/tmp/landed")


def test_destination_dotdot_applies_to_the_text_and_stays_in_the_root(bb, tmp_path):
    (tmp_path / "f").write_text("payload\n")
    landed = f"bb-test-dotdot-{os.getpid()}"
    ctr = bb("from", "busybox")
    bb(
        "run",
        ctr,
        "--",
        "sh",
        "-c",
        "mkdir -p /real/sub && ln -s /real/sub /link && ln -s /../../../../tmp /sneaky",
    )
    # as buildah and docker read a destination: /link/.. is /, wherever /link leads
    bb("copy", ctr, str(tmp_path / "f"), "/link/../at-root")
    bb("copy", ctr, str(tmp_path / "f"), "/link/..")
    # .. stops at /, and a symlink leading out is still resolved inside the root
    bb("copy", ctr, str(tmp_path / "f"), f"/../../sneaky/{landed}")
    assert (
        bb("run", ctr, "--", "cat", "/at-root", "/f", f"/tmp/{landed}").split() == ["payload"] * 3
    )
    assert bb.run("run", ctr, "--", "test", "-e", "/real/at-root", check=False).returncode == 1
    assert not os.path.exists(f"/tmp/{landed}")
