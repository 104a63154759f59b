#!/usr/bin/env bash
# Builds novadock-test/busybox:latest from Debian's busybox-static with
# `docker import` (no registry here). Idempotent. Its command stays up and
# exits cleanly on SIGTERM, like a well-behaved service. /bin/udp-echo
# (tools/test-image/udp-echo.rs, static) answers UDP: busybox's nc has no UDP.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${1:-novadock-test/busybox:latest}
# Bumped when the image's content changes, so an older build is replaced.
VERSION=2
if [ "$(docker image inspect -f '{{index .Config.Labels "novadock-test.version"}}' "$IMAGE" 2>/dev/null)" = "$VERSION" ]; then
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
if command -v rustc >/dev/null; then
    rustc --edition 2021 -O -C target-feature=+crt-static -C strip=symbols \
        tools/test-image/udp-echo.rs -o "$root/bin/udp-echo"
else
    echo "build-test-image: no rustc, so $IMAGE has no /bin/udp-echo" >&2
fi
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"
tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/bin' \
    -c "LABEL novadock-test.version=$VERSION" \
    -c "CMD [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM; echo booted; while :; do sleep 1; done\"]" \
    - "$IMAGE" >/dev/null
echo "built $IMAGE"
