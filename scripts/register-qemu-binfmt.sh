#!/bin/sh
# Make sure the kernel hands programs of another architecture to qemu-user-static through
# binfmt_misc, with the F flag (the interpreter is opened now, so it also works inside a
# container's root, which has no qemu):
#   scripts/register-qemu-binfmt.sh [MACHINE]     (qemu's name: aarch64, arm, riscv64...; aarch64)
# binfmt-support does this at boot; this is for machines (or the test VM) where it did not run.
# The entry is written from qemu-user-static's own description (/usr/share/binfmts/qemu-MACHINE).
set -eu
handler=qemu-${1:-aarch64}
binfmt=/proc/sys/fs/binfmt_misc
[ -e $binfmt/status ] || mount -t binfmt_misc binfmt_misc $binfmt
if [ ! -e "$binfmt/$handler" ]; then
    spec=/usr/share/binfmts/$handler
    [ -r "$spec" ] || { echo "$0: no $spec (apt-get install qemu-user-static)" >&2; exit 1; }
    field() { sed -n "s/^$1 //p" "$spec"; }
    flags=F
    [ "$(field preserve)" = yes ] && flags=P$flags
    [ "$(field credentials)" = yes ] && flags=${flags}C
    printf ':%s:M:%s:%s:%s:%s:%s\n' "$handler" "$(field offset)" "$(field magic)" \
        "$(field mask)" "$(field interpreter)" "$flags" > $binfmt/register
fi
grep -qx enabled "$binfmt/$handler" || echo 1 > "$binfmt/$handler"
grep -q '^flags:.*F' "$binfmt/$handler" || {
    echo "$0: $binfmt/$handler is registered without the F flag; remove it" \
        "(echo -1 > $binfmt/$handler) and run this again" >&2
    exit 1
}
