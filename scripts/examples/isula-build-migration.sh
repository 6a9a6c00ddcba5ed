#!/bin/sh
# An isula-build user's script, run unchanged with bb standing in for isula-build:
#
#   ln -s "$(command -v bb)" /usr/local/bin/isula-build      # (or, in a shell: alias isula-build=bb)
#   scripts/examples/isula-build-migration.sh [OUTDIR]
#
# It builds an image, lists, tags, saves (a docker-archive, an -o archive and separated
# images), removes and loads it back, with isula-build's commands and by parsing isula-build's
# output, as such scripts do. BASE (default busybox:latest, as scripts/examples/busybox.sh
# builds it) must be a one-layer image: it is the separated images' base.
# OUTDIR gets hello.tar and hello-archive.tar (both `docker load`-able) and Images/.
set -eu

out=${1:-.}
base=${BASE:-busybox:latest}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/Dockerfile" <<EOF
FROM $base
RUN echo "hello from an isula-build script" > /hello.txt
CMD ["cat", "/hello.txt"]
EOF

# the image ID is the last field of isula-build's success line
isula-build ctr-img build -f "$work/Dockerfile" -t hello:1 "$work" | tee "$work/build.log"
image_id=$(grep "Build success with image id: " "$work/build.log" | cut -d ":" -f 2 | tr -d ' ')

# images: a dashed rule, the header, a rule, the rows, a rule
listed=$(isula-build ctr-img images hello:1 | tail -n +4 | head -n 1 | awk '{print $1":"$2" "$3}')
[ "$listed" = "hello:1 $(echo "$image_id" | cut -c 1-12)" ] || {
    echo "unexpected images row: $listed" >&2
    exit 1
}

isula-build ctr-img tag hello:1 hello:2
isula-build ctr-img rm hello:2
isula-build ctr-img save -f docker hello:1 -o "$out/hello.tar"
isula-build ctr-img build --output=docker-archive:"$out/hello-archive.tar":hello-archive:1 "$work"
isula-build ctr-img save -b "$base" -d "$out/Images" hello:1

# every image made here goes, and comes back from the separated images and the archive
isula-build ctr-img rm hello:1 hello-archive:1
isula-build ctr-img load -d "$out/Images" -i hello:1
isula-build ctr-img load -i "$out/hello-archive.tar"
isula-build ctr-img images

isula-build info -H | grep "Storage Driver:"
isula-build version
