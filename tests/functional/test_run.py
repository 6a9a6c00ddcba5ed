"""bb run."""

import os


def test_run_streams_output_and_passes_exit_status(bb):
    ctr = bb("from", "busybox")
    result = bb.run("run", ctr, "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert "err\n" in result.stderr


def test_run_command_not_found_is_127(bb):
    ctr = bb("from", "busybox")
    error = bb.fails("run", ctr, "--", "nosuchcommand", code=127)
    assert "nosuchcommand" in error and "not found" in error


def test_run_not_executable_is_126(bb):
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "sh", "-c", "echo x > /notexec; chmod 644 /notexec")
    bb.fails("run", ctr, "--", "/notexec", code=126)


def test_run_uses_image_config(bb):
    ctr = bb("from", "busybox")
    bb("config", "--env", "GREETING=hi", "--workingdir", "/tmp", "--user", "nobody", ctr)
    out = bb("run", ctr, "--", "sh", "-c", "echo $GREETING; pwd; id -u; echo $HOME")
    assert out.splitlines() == ["hi", "/tmp", "65534", "/nonexistent"]


def test_run_options(bb, tmp_path):
    ctr = bb("from", "busybox")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in").write_text("from host\n")
    out = bb(
        "run",
        "-e",
        "A=1",
        "--workingdir",
        "/work",
        "--user",
        "65534:65534",
        "-v",
        f"{shared}:/mnt/shared",
        ctr,
        "--",
        "sh",
        "-c",
        "echo $A; pwd; id -u; id -g; cat /mnt/shared/in",
    )
    assert out.splitlines() == ["1", "/work", "65534", "65534", "from host"]
    bb.fails("run", "-v", f"{shared}:/ro:ro", ctr, "--", "touch", "/ro/x", code=1)
    assert not (shared / "x").exists()


def test_run_host_network_and_files(bb):
    ctr = bb("from", "busybox")
    hosts = bb("run", ctr, "--", "cat", "/etc/hosts")
    assert "localhost" in hosts
    # the host's network is shared: the container sees the host's interfaces
    interfaces = bb("run", ctr, "--", "cat", "/proc/net/dev")
    assert "lo:" in interfaces
    with open("/proc/net/dev") as host:
        assert len(host.read().splitlines()) == len(interfaces.splitlines())


def test_run_capabilities(bb):
    ctr = bb("from", "busybox")

    # CAP_SYS_ADMIN is bit 21: absent by default, present with --cap-add
    def has_sys_admin(*flags):
        status = bb("run", *flags, ctr, "--", "grep", "CapEff", "/proc/self/status")
        return bool(int(status.split()[1], 16) & (1 << 21))

    assert not has_sys_admin()
    assert has_sys_admin("--cap-add", "SYS_ADMIN")
    assert "unknown capability" in bb.fails("run", "--cap-add", "CAP_BOGUS", ctr, "--", "true")


def test_run_leaves_no_trace_in_the_layer(bb):
    ctr = bb("from", "scratch")
    bb("copy", "--chmod", "755", ctr, "/bin/busybox", "/busybox")
    bb("run", ctr, "--", "/busybox", "true")
    image = bb("commit", ctr, "traceless")
    layers = bb("inspect", "--type", "image", "--format", "{{.Layers}}", image)
    blob = layers.split('"')[1].split(":")[1]
    import tarfile

    names = tarfile.open(bb.root / "blobs" / "sha256" / blob).getnames()
    assert names == ["busybox"]


def test_run_unknown_container_and_missing_command(bb):
    assert 'container "nope" not known' in bb.fails("run", "nope", "--", "true")
    ctr = bb("from", "busybox")
    assert "no command" in bb.fails("run", ctr)


def test_run_keeps_changes(bb):
    ctr = bb("from", "busybox")
    bb("run", ctr, "--", "sh", "-c", "echo kept > /kept")
    assert bb("run", ctr, "--", "cat", "/kept") == "kept"


def test_run_with_terminal(bb):
    ctr = bb("from", "busybox")
    import pty
    import subprocess

    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [bb.executable, "run", "-t", ctr, "--", "sh", "-c", "tty; echo $TERM"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=bb.env(),
        cwd=bb.cwd,
    )
    os.close(secondary)
    output = b""
    while True:
        try:
            chunk = os.read(primary, 1024)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=60) == 0
    text = output.decode()
    assert "/dev/pts/" in text and "xterm" in text
