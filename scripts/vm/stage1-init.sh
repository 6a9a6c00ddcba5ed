#!/bin/busybox sh
# bb-vm stage 1: the /init of the initramfs built by scripts/vm/run-in-vm.
#
# Loads the kernel modules listed in /etc/bb-vm/modules (in order), mounts the
# host's root file system (9p, read-only) under a tmpfs-backed overlay, mounts
# the per-run 9p share at /run/bb-vm/io and the raw read-only host root at
# /run/bb-vm/host, then moves the overlay onto / and chroots into it to run the
# per-run stage 2 script (/run/bb-vm/io/stage2.sh) with the host's static
# busybox (/bin/busybox from Debian's busybox-static).
#
# Everything printed here goes to the serial console (the host keeps it in a
# log file; `run-in-vm --verbose` shows it).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys

say() { { read -r up _ </proc/uptime; } 2>/dev/null || up=?; echo "bb-vm[init] $up: $*"; }
die() {
    say "FATAL: $*"
    # Leave a note for the host if the run share is already there.
    [ -d /newroot/run/bb-vm/io ] && echo "$*" > /newroot/run/bb-vm/io/error
    sync
    poweroff -f
    reboot -f
    sleep 1000
}

DEBUG=
case " $(cat /proc/cmdline) " in *" bbvm.debug "*) DEBUG=1 ;; esac
# File-system modules (modules.late: "path boot-modules-it-needs...") load in
# the background, alongside the others and the rest of the guest's setup
# (xfs alone takes ~2.5 s under TCG); stage 2 waits for this process before
# it runs the command.  It keeps seeing the initramfs after the root switch
# below, as its root stays the initramfs; its cwd keeps /sys/module.
(
    cd /sys/module || exit 1
    while read -r m needs; do
        [ -n "$m" ] || continue
        for d in $needs; do
            n=0
            until { read -r st < "$d/initstate"; } 2>/dev/null && [ "$st" = live ]; do
                n=$((n + 1))
                [ $n -gt 3000 ] && { say "warning: $d not loaded; loading $m anyway"; break; }
                usleep 10000
            done
        done
        [ -n "$DEBUG" ] && say "insmod $m"
        insmod "/lib/modules/$m" || say "warning: insmod $m failed"
    done < /etc/bb-vm/modules.late
    [ -n "$DEBUG" ] && say "late modules loaded"
) &
LATE_PID=$!
say "loading modules"
while read -r m; do
    [ -n "$m" ] || continue
    [ -n "$DEBUG" ] && say "insmod $m"
    insmod "/lib/modules/$m" || say "warning: insmod $m failed"
done < /etc/bb-vm/modules

say "mounting the host root"
P9="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$P9,ro,cache=loose" hostroot /lower || die "cannot mount the host root (9p tag hostroot)"
mount -t tmpfs -o mode=755,size=50% bb-upper /rw || die "cannot mount the overlay tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work bb-root /newroot \
    || die "cannot mount the overlay root"
mount -t tmpfs -o mode=755,size=50% tmpfs /newroot/run || die "cannot mount /run"
mkdir -p /newroot/run/bb-vm/io /newroot/run/bb-vm/host
mount -t 9p -o "$P9,cache=none" bbrun /newroot/run/bb-vm/io || die "cannot mount the run share (9p tag bbrun)"
echo "$LATE_PID" > /newroot/run/bb-vm/late-pid
mount --move /lower /newroot/run/bb-vm/host || say "warning: cannot move the host root view"
[ -f /newroot/run/bb-vm/io/stage2.sh ] || die "stage2.sh missing from the run share"
[ -x /newroot/bin/busybox ] || die "/bin/busybox (Debian busybox-static) missing on the host"
say "switching root"
for d in dev proc sys; do
    mount --move /$d /newroot/$d || die "cannot move /$d"
done
# Like switch_root, but without emptying the initramfs (the background module
# loader above still reads it; it costs ~3 MB of RAM).
cd /newroot && mount --move . / && exec chroot . /bin/busybox sh /run/bb-vm/io/stage2.sh
echo "bb-vm[init]: FATAL: cannot switch to the new root"
poweroff -f
