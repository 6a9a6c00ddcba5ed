"""run-in-vm's command line: options, signals, and the exit status."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType
from typing import NoReturn

from . import report
from .cache import cache_dir, prepare
from .report import EXIT_VM_FAILED, Failure, Interrupted, log
from .session import RunOptions, run_vm


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The options and the COMMAND of argv; exits with a usage error (2) if they are wrong."""
    p = argparse.ArgumentParser(
        prog="run-in-vm",
        usage="run-in-vm [--timeout S] [--mem MB] [--smp N] [--env K=V]... [--cwd DIR] "
        "[--out DIR]... [--show DIR]... [--disk SIZE]... [--verbose] -- COMMAND [ARG...]",
        description="Run COMMAND as root in a QEMU VM (Debian kernel with dm-thin-pool) over a "
        "RAM overlay of the host's root file system; exit with its status.",
        epilog="exit status: the command's; 124 timeout; 125 VM preparation/boot/setup failure; "
        "128+N killed by signal N. See scripts/vm/README.md.",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=3600,
        help="seconds for boot + command before the VM is killed (default 3600; 0: none)",
    )
    p.add_argument("--mem", type=int, default=4096, help="guest RAM in MB (default 4096)")
    p.add_argument("--smp", type=int, default=2, help="guest CPUs (default 2)")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="K=V",
        help="set K=V in the command's environment (K alone: copy the host's value, "
        "or unset K if the host has none); repeatable",
    )
    p.add_argument("--cwd", help="working directory in the guest (default: the current one)")
    p.add_argument(
        "--out",
        action="append",
        default=[],
        metavar="DIR",
        help="host directory shared read-write at the same path in the guest "
        "(created if missing); repeatable",
    )
    p.add_argument(
        "--show",
        action="append",
        default=[],
        metavar="DIR",
        help="host directory under /tmp, /run or /dev/shm (which the guest's own "
        "tmpfs mounts hide) to make visible at the same path, copy-on-write in "
        "RAM; the cwd, VIRTUAL_ENV, PATH entries (venvs) and the command are "
        "shown automatically; repeatable",
    )
    p.add_argument(
        "--disk",
        action="append",
        default=[],
        type=disk_size,
        metavar="SIZE",
        help="attach an empty virtio-blk disk of SIZE bytes (suffix K, M, G: binary units), "
        "a sparse file in the run's host temp directory, removed afterwards: the first is "
        "/dev/vda, the next /dev/vdb, ...; repeatable",
    )
    p.add_argument(
        "--tmp-size",
        default="100%",
        help="size limit of the guest's tmpfs /tmp (default 100%% of guest RAM; "
        "sparse files only count written blocks)",
    )
    p.add_argument("--append", default="", help="extra kernel command line")
    p.add_argument(
        "--verbose", "-v", action="store_true", help="show the VM console and timings on stderr"
    )
    p.add_argument(
        "--prepare-only",
        action="store_true",
        help="only prepare the cache (kernel, modules, initramfs) and exit",
    )
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    cmd = args.command
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd and not args.prepare_only:
        p.error("no COMMAND given (use: run-in-vm [options] -- COMMAND...)")
    return args, cmd


def disk_size(text: str) -> int:
    """`--disk` SIZE in bytes: a number with an optional K, M or G (binary units)."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    number, unit = text[:-1], text[-1:].upper()
    if unit.isdigit():
        number, unit = text, ""
    if not number.isdigit() or unit not in units or int(number) == 0:
        raise argparse.ArgumentTypeError(f"invalid disk size {text!r} (e.g. 8G, 512M)")
    size = int(number) * units[unit]
    if size % 512:
        raise argparse.ArgumentTypeError(f"disk size {text!r} is not a multiple of 512 bytes")
    return size


def on_signal(signum: int, _frame: FrameType | None) -> NoReturn:
    """End the run: the VM is killed on the way out."""
    raise Interrupted(signum)


def main(argv: list[str]) -> int:
    """Run run-in-vm with arguments argv; return its exit status."""
    args, command = parse_args(argv)
    report.VERBOSE = args.verbose
    # Handled even where the caller ignores SIGINT (e.g. a background job of a
    # script): the VM must never outlive us.  SIGHUP only if not ignored (nohup).
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:
        signal.signal(signal.SIGHUP, on_signal)
    if os.geteuid() != 0:
        log("must run as root (apt-get, 9p passthrough, the cache in /var/cache)")
        return EXIT_VM_FAILED
    if args.prepare_only:
        try:
            version, vmlinuz, initrd = prepare(cache_dir())
        except Failure as e:
            log(f"VM preparation failed: {e}")
            return EXIT_VM_FAILED
        print(f"{version} {vmlinuz} {initrd}")
        return 0
    options = RunOptions(
        timeout=args.timeout,
        mem=args.mem,
        smp=args.smp,
        env=args.env,
        cwd=args.cwd,
        out=args.out,
        show=args.show,
        tmp_size=args.tmp_size,
        disks=args.disk,
        append=args.append,
    )
    return run_vm(options, command)


def run() -> NoReturn:
    """The run-in-vm program: main on sys.argv, exiting with its status (128+N on signal N)."""
    try:
        sys.exit(main(sys.argv[1:]))
    except (Interrupted, KeyboardInterrupt) as e:
        signum = e.signum if isinstance(e, Interrupted) else signal.SIGINT
        log(f"interrupted by signal {int(signum)}")
        sys.exit(128 + int(signum))
