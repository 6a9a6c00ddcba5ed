#!/bin/sh
# The step-by-step twin of scripts/examples/hello-site/Dockerfile: the same image, one bb command per step.
#
#   scripts/examples/hello-site.sh [IMAGE] [--timestamp EPOCH]
#
# Needs the busybox image from scripts/examples/busybox.sh.
set -eu

image=${1:-localhost/hello-site:latest}
shift $(( $# > 0 ? 1 : 0 ))
site=$(dirname "$0")/hello-site

ctr=$(bb from busybox)
trap 'bb rm "$ctr" >/dev/null 2>&1 || true' EXIT
bb config --label org.opencontainers.image.title=hello-site "$ctr"   # LABEL
bb config --env SITE_ROOT=/srv/www "$ctr"                           # ENV
bb config --workingdir /srv/www "$ctr"                              # WORKDIR
bb run "$ctr" -- mkdir -p /srv/www
bb copy "$ctr" "$site/index.html" ./                                # COPY
bb run "$ctr" -- /bin/sh -c "echo 'www:x:1000:1000:www:/srv/www:/bin/false' >> /etc/passwd && echo 'www:x:1000:' >> /etc/group && chown -R www:www /srv/www"   # RUN
bb config --user www "$ctr"                                         # USER
bb config --port 8080 "$ctr"                                        # EXPOSE
bb config --cmd '["httpd", "-f", "-p", "8080", "-h", "/srv/www"]' "$ctr"   # CMD
bb commit --rm "$@" "$ctr" "$image"
trap - EXIT
