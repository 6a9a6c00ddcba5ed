#!/bin/sh
# Build a busybox image step by step from Debian's busybox-static binary, then run it.
#
#   scripts/examples/busybox.sh [IMAGE]        (default: localhost/busybox:latest)
#
# PLATFORM=linux/arm64 BUSYBOX=/path/to/arm64/busybox builds it for another platform (its RUN
# steps run through qemu-user: see multiarch.sh).
#
# With SOURCE_DATE_EPOCH set, the image is reproducible: its ID depends only on
# the busybox binary and that time, not on when or on which storage driver it is built.
#
# Every step is a plain bb command: stop anywhere and `bb run -t "$ctr" -- sh`
# into the half-built container to look around.
set -eu

image=${1:-localhost/busybox:latest}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "$0: $busybox not found (apt-get install busybox-static)" >&2; exit 1; }

ctr=$(bb from ${PLATFORM:+--platform "$PLATFORM"} scratch)
trap 'bb rm "$ctr" >/dev/null 2>&1 || true' EXIT

bb copy --chmod 0755 "$ctr" "$busybox" /bin/busybox
bb run "$ctr" -- /bin/busybox mkdir -p /usr/bin /sbin /usr/sbin /etc /root /tmp /var
bb run "$ctr" -- /bin/busybox --install -s
bb run "$ctr" -- /bin/sh -c '
    chmod 1777 /tmp
    echo "root:x:0:0:root:/root:/bin/sh" > /etc/passwd
    echo "nobody:x:65534:65534:nobody:/nonexistent:/bin/false" >> /etc/passwd
    echo "root:x:0:" > /etc/group
    echo "nogroup:x:65534:" >> /etc/group'
bb config --cmd '["/bin/sh"]' --env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    --label org.opencontainers.image.title=busybox \
    --label "org.opencontainers.image.description=busybox from Debian's busybox-static" \
    --author "bb examples" "$ctr"
bb commit --rm ${SOURCE_DATE_EPOCH:+--timestamp "$SOURCE_DATE_EPOCH"} "$ctr" "$image"
trap - EXIT

# Use the image: a new working container from it, one command run in it.
ctr=$(bb from ${PLATFORM:+--platform "$PLATFORM"} "$image")
bb run "$ctr" -- sh -c 'echo "hello from $(busybox | head -n 1)"'
bb rm "$ctr" >/dev/null
