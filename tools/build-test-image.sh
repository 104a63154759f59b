#!/usr/bin/env bash
# Builds novadock-test/busybox:latest from Debian's busybox-static with
# `docker import` (no registry here). Idempotent. Its command stays up and
# exits cleanly on SIGTERM, like a well-behaved service.
set -euo pipefail
IMAGE=${1:-novadock-test/busybox:latest}
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi
# Debian's busybox-static puts a static binary here: it runs in an empty rootfs.
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || { echo "install Debian's busybox-static first" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/bin "$root"/etc "$root"/tmp "$root"/proc "$root"/sys "$root"/dev "$root"/root
cp "$BUSYBOX" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"
tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/bin' \
    -c "CMD [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM; echo booted; while :; do sleep 1; done\"]" \
    - "$IMAGE" >/dev/null
echo "built $IMAGE"
