# bb-vm stage 2 (no shebang: run-in-vm prepends a generated header that sets
# the BBVM_* variables and defines bbvm_mounts and bbvm_command; the guest's
# stage 1 runs the result as PID 1 with the host's static busybox, once it has
# switched into the overlay of the host root).
#
# It mounts the API file systems, sets up cgroup v2 for runc, checks that the
# device-mapper thin-pool target is registered, mounts the --show and --out
# directories, runs the command with stdout/stderr on the virtio ports
# bb.out/bb.err, records its exit status in the run share and powers off.
BB=/bin/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
IO=/run/bb-vm/io

say() { { read -r up _ </proc/uptime; } 2>/dev/null || up=?; echo "bb-vm $up: $*"; }
poweroff_now() {
    $BB sync
    $BB poweroff -f
    $BB reboot -f
    $BB sleep 1000
}
fail() {
    say "FATAL: $*"
    echo "$*" > "$IO/error"
    poweroff_now
}

say "stage 2"
# --- API file systems ------------------------------------------------------
# /proc, /sys and /dev were moved here by stage 1.
[ -e /proc/self ] || $BB mount -t proc proc /proc
[ -e /sys/kernel ] || $BB mount -t sysfs sysfs /sys
[ -e /dev/null ] || $BB mount -t devtmpfs devtmpfs /dev
$BB mkdir -p /dev/pts /dev/shm /dev/mqueue
$BB mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts
$BB mount -t tmpfs -o mode=1777,nosuid,nodev,size=50% shm /dev/shm
$BB mount -t mqueue mqueue /dev/mqueue 2>/dev/null
[ -e /dev/fd ] || $BB ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || $BB ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || $BB ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || $BB ln -s /proc/self/fd/2 /dev/stderr
[ -e /dev/core ] || $BB ln -s /proc/kcore /dev/core
# Guest's own tmpfs /tmp (sparse files cost only the blocks written).
$BB mount -t tmpfs -o mode=1777,size=$BBVM_TMP_SIZE tmpfs /tmp || fail "cannot mount /tmp"
$BB mkdir -p /run/lock /run/user && $BB chmod 1777 /run/lock
# cgroup v2, all controllers delegated from the root, as runc (fs2 driver) expects.
$BB mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail "cannot mount cgroup2"
for c in $($BB cat /sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || say "warning: cannot enable cgroup controller $c"
done
$BB mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
$BB hostname bb-vm
$BB ip link set lo up 2>/dev/null
# The guest kernel's modules (so that modprobe works for anything not preloaded).
if [ -d "$BBVM_MODULES_DIR" ]; then
    $BB mkdir -p "/lib/modules/$BBVM_KVER" && $BB mount --bind "$BBVM_MODULES_DIR" "/lib/modules/$BBVM_KVER"
fi

say "checking device-mapper targets"
# --- device-mapper thin provisioning ----------------------------------------
targets=$(dmsetup targets 2>&1) || fail "dmsetup targets failed: $(echo $targets)"
echo "$targets" | $BB grep -q '^thin-pool ' \
    || fail "device-mapper thin-pool target is not registered (dmsetup targets: $(echo $targets))"
echo "$targets" | $BB grep -q '^thin ' \
    || fail "device-mapper thin target is not registered (dmsetup targets: $(echo $targets))"

# --- host directories the guest's /tmp, /run hide (--show), then --out shares --
bbvm_mounts || fail "cannot mount a --show or --out directory"

# --- the command ------------------------------------------------------------
port() {  # device node of the virtio port named $1
    for p in /sys/class/virtio-ports/*; do
        [ "$($BB cat "$p/name" 2>/dev/null)" = "$1" ] && { echo "/dev/${p##*/}"; return 0; }
    done
    return 1
}
OUT=$(port bb.out) && ERR=$(port bb.err) && CTL=$(port bb.ctl) || fail "virtio ports bb.out/bb.err/bb.ctl not found"
cd "$BBVM_CWD" 2>/dev/null || fail "working directory $BBVM_CWD does not exist in the guest"

# Wait for stage 1's background loader of the file-system modules.
if [ -s /run/bb-vm/late-pid ]; then
    read -r pid < /run/bb-vm/late-pid
    while [ -e "/proc/$pid/stat" ]; do
        { read -r _ _ st _ < "/proc/$pid/stat"; } 2>/dev/null || break
        [ "$st" = Z ] && break
        $BB usleep 20000
    done
fi
say "modules loaded"
exec 3>"$OUT" 4>"$ERR" 5<>"$CTL" || fail "cannot open the virtio ports"
echo started >&5
say "running the command"
bbvm_command </dev/null >&3 2>&4 3>&- 4>&- 5>&-
status=$?
say "command exited with status $status"
$BB sync
echo "$status" > "$IO/status.tmp" && $BB mv "$IO/status.tmp" "$IO/status"
# End-of-stream markers: the host stops relaying each port once it sees its
# marker, and acknowledges on bb.ctl once it has both; only then power off
# (data still queued in a virtqueue would be lost otherwise).
$BB printf "\\000BBVM-EOF-%s\\000" "$BBVM_TOKEN" >&3
$BB printf "\\000BBVM-EOF-%s\\000" "$BBVM_TOKEN" >&4
echo "exited $status" >&5
read -t 30 ack <&5 || say "warning: no acknowledgement from the host"
poweroff_now
