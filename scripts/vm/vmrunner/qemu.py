"""The QEMU invocation: TCG, the kernel, the 9p shares, the serial console, the virtio ports."""

from __future__ import annotations

import ctypes
import signal

from .host import which


def qopt(value: str) -> str:
    """Escape a value for a comma-separated QEMU option list."""
    return value.replace(",", ",,")


def qemu_command(
    *,
    kernel: str,
    initrd: str,
    append: str,
    smp: int,
    mem: int,
    io_dir: str,
    outs: list[tuple[str, str]],
    disks: list[str],
    fds: dict[str, int],
) -> list[str]:
    """The qemu-system-x86_64 command line of one run.

    outs: (mount tag, host directory) of each --out share; fds: the qemu ends of the
    socketpairs of the console ("con") and the ports bb.out, bb.err, bb.ctl; disks: the raw
    image files of the extra virtio-blk disks, in order (the guest's /dev/vda, /dev/vdb, ...).
    """
    cmdline = [
        # ensure_host_packages has installed qemu, maybe in an sbin directory PATH lacks
        which("qemu-system-x86_64") or "qemu-system-x86_64",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        "-accel",
        "tcg,thread=multi",
        "-cpu",
        "max",
        "-smp",
        str(smp),
        "-m",
        str(mem),
        "-kernel",
        kernel,
        "-initrd",
        initrd,
        # acpi=noirq: ACPI PCI interrupt-link setup costs ~1.3 s under TCG.
        "-append",
        "console=ttyS0 quiet loglevel=1 panic=-1 8250.nr_uarts=1 acpi=noirq "
        "cryptomgr.notests mitigations=off random.trust_cpu=on " + append,
        "-chardev",
        f"socket,id=con,fd={fds['con']}",
        "-serial",
        "chardev:con",
        "-device",
        "virtio-rng-pci",
        "-fsdev",
        "local,id=hostroot,path=/,security_model=passthrough,readonly=on,multidevs=remap",
        "-device",
        "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
        "-fsdev",
        f"local,id=bbrun,path={qopt(io_dir)},security_model=passthrough,multidevs=remap",
        "-device",
        "virtio-9p-pci,fsdev=bbrun,mount_tag=bbrun",
    ]
    for tag, d in outs:
        cmdline += [
            "-fsdev",
            (f"local,id={tag},path={qopt(d)},security_model=passthrough,multidevs=remap"),
            "-device",
            f"virtio-9p-pci,fsdev={tag},mount_tag={tag}",
        ]
    for i, path in enumerate(disks):
        # discard=unmap: what the guest discards (blkdiscard, a thin pool) is freed in the file
        cmdline += [
            "-drive",
            f"file={qopt(path)},if=none,id=disk{i},format=raw,cache=unsafe,discard=unmap",
            "-device",
            f"virtio-blk-pci,drive=disk{i}",
        ]
    cmdline += ["-device", "virtio-serial-pci,id=vser"]
    for i, name in enumerate(("out", "err", "ctl")):
        cmdline += [
            "-chardev",
            f"socket,id={name},fd={fds[name]}",
            "-device",
            f"virtserialport,bus=vser.0,nr={i + 1},chardev={name},name=bb.{name}",
        ]
    return cmdline


def set_pdeathsig() -> None:
    """In the qemu child: die with the parent (even if it is SIGKILLed)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not glibc/Linux: timeouts and signals still kill qemu
        return
