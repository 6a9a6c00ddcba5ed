"""One run: prepare the cache, write stage 2, boot qemu, relay the output, give the exit status."""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

from .cache import cache_dir, prepare
from .guest import build_env, show_dirs, write_stage2
from .qemu import qemu_command, set_pdeathsig
from .report import EXIT_TIMEOUT, EXIT_VM_FAILED, Failure, Interrupted, debug, log
from .streams import GuestLink


@dataclass(frozen=True)
class RunOptions:
    """run-in-vm's options for one run (see cli.parse_args for each one's meaning)."""

    timeout: float
    mem: int
    smp: int
    env: list[str]
    cwd: str | None
    out: list[str]
    show: list[str]
    tmp_size: str
    append: str
    disks: list[int]


def run_vm(options: RunOptions, command: list[str]) -> int:
    """Run command in a fresh VM; return its exit status or run-in-vm's own (124, 125, 128+N)."""
    cache = cache_dir()
    t_start = time.monotonic()
    try:
        version, vmlinuz, initrd = prepare(cache)
    except Failure as e:
        log(f"VM preparation failed: {e}")
        return EXIT_VM_FAILED
    t_prepared = time.monotonic()
    debug(f"kernel {version}; cache ready after {t_prepared - t_start:.1f} s")

    cwd = os.path.abspath(options.cwd or os.getcwd())
    outs = []
    for i, d in enumerate(options.out):
        d = os.path.abspath(d)
        os.makedirs(d, exist_ok=True)
        outs.append((f"bbout{i}", d))
    env = build_env(options.env)
    shows = show_dirs(options.show, cwd, env, command, [d for _t, d in outs])
    for d in shows:
        debug(f"showing host {d} in the guest (copy-on-write)")
    token = secrets.token_hex(16)
    marker = b"\0BBVM-EOF-" + token.encode() + b"\0"

    run_dir = tempfile.mkdtemp(prefix="bb-vm-")
    io_dir = os.path.join(run_dir, "io")
    os.mkdir(io_dir)
    keep_run_dir = False
    console_path = os.path.join(run_dir, "console.log")
    qemu_log_path = os.path.join(run_dir, "qemu.log")
    write_stage2(
        io_dir,
        token=token,
        cwd=cwd,
        env=env,
        command=command,
        outs=outs,
        shows=shows,
        kver=version,
        moddir="/run/bb-vm/host" + os.path.join(cache, version, "lib", "modules", version),
        tmp_size=options.tmp_size,
    )

    # Sparse files, so an 8G disk costs only the blocks the guest writes; removed with run_dir,
    # or on their own where a failure keeps run_dir for its logs.
    disks = []
    for i, size in enumerate(options.disks):
        path = os.path.join(run_dir, f"disk{i}.img")
        with open(path, "wb") as disk:
            disk.truncate(size)
        disks.append(path)

    link = GuestLink(marker)
    fds = link.qemu_fds()
    cmdline = qemu_command(
        kernel=vmlinuz,
        initrd=initrd,
        append=options.append,
        smp=options.smp,
        mem=options.mem,
        io_dir=io_dir,
        outs=outs,
        disks=disks,
        fds=fds,
    )
    debug("$ " + shlex.join(cmdline))

    proc = None
    interrupted = None
    try:
        with open(qemu_log_path, "wb") as qlog, open(console_path, "wb") as console:
            proc = subprocess.Popen(
                cmdline,
                stdin=subprocess.DEVNULL,
                stdout=qlog,
                stderr=qlog,
                pass_fds=list(fds.values()),
                start_new_session=True,
                preexec_fn=set_pdeathsig,
            )  # noqa: PLW1509 (one thread)
            link.close_qemu_ends()
            deadline = t_prepared + options.timeout if options.timeout > 0 else None
            link.relay(proc, console, deadline, t_prepared)
            proc.wait()
    except Interrupted as e:
        interrupted = e.signum
    except OSError as e:  # qemu could not be started at all
        with open(qemu_log_path, "a") as qlog:
            qlog.write(f"{e}\n")
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        link.close()

    t_end = time.monotonic()
    status_file = os.path.join(io_dir, "status")
    error_file = os.path.join(io_dir, "error")
    try:
        if interrupted:
            log(f"interrupted by signal {interrupted}; killed the VM")
            return 128 + int(interrupted)
        if link.timed_out:
            keep_run_dir = True
            log(
                f"timed out after {options.timeout:g} s; killed the VM "
                f"(console log: {console_path})"
            )
            return EXIT_TIMEOUT
        if os.path.isfile(status_file):
            with open(status_file) as f:
                status = int(f.read().strip() or EXIT_VM_FAILED)
            if not link.output_complete:
                log("warning: the command's output may be truncated")
            if link.started_at is not None:
                command_s = (link.exit_seen_at or t_end) - link.started_at
                debug(
                    f"timings: prepare {t_prepared - t_start:.1f} s, boot-to-command "
                    f"{link.started_at - t_prepared:.1f} s, command {command_s:.1f} s, "
                    f"total {t_end - t_start:.1f} s"
                )
            return status
        keep_run_dir = True
        if os.path.isfile(error_file):
            with open(error_file) as f:
                msg = " ".join(f.read().split())
            log(f"VM setup failed: {msg} (console log: {console_path})")
        elif link.started_at is None:
            with open(qemu_log_path, "rb") as f:
                qmsg = " ".join(f.read().decode(errors="replace").split())[:300]
            with open(console_path, "rb") as f:
                lines = [ln.strip() for ln in f.read().decode(errors="replace").splitlines()]
            last = next((ln for ln in reversed(lines) if ln), "")[:200]
            log(
                f"VM failed to boot (qemu exit status {proc.returncode if proc else '?'}"
                f"{': ' + qmsg if qmsg else ''}{'; console: ' + repr(last) if last else ''}"
                f"; console log: {console_path})"
            )
        else:
            log(
                f"VM died while the command was running (kernel panic? out of memory? "
                f"console log: {console_path})"
            )
        return EXIT_VM_FAILED
    finally:
        if not keep_run_dir:
            shutil.rmtree(run_dir, ignore_errors=True)
        for path in disks:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
