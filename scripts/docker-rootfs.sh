#!/usr/bin/env bash
# Assembles the files of the container image (see Dockerfile) from a built cartwheel binary:
#   scripts/docker-rootfs.sh BINARY OUT
# writes OUT/rootfs/ (root-owned in the image) and OUT/data/ (the empty volume directory, owned
# by the image's user through COPY --chown). The image is FROM scratch, so OUT/rootfs holds
# everything the binary needs at run time:
#   /usr/local/bin/cartwheel          the binary, debug info stripped (symbols kept for backtraces)
#   the shared libraries `ldd` lists  glibc, libm, libgcc_s and the dynamic loader, at their paths
#   /etc/nsswitch.conf, passwd, group host names via /etc/hosts then DNS (compose service names);
#                                     user cartwheel = 10001
#   /etc/cartwheel/cartwheel.toml     the default configuration (conf/docker/cartwheel.toml)
#   /tmp                              mode 1777
# Used by the Dockerfile's from-source stage (inside rust:bookworm) and by scripts/docker-build.sh
# (a binary built on this host), so both images have the same layout.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BINARY OUT" >&2
  exit 2
fi
bin=$1
out=$2
here="$(cd "$(dirname "$0")/.." && pwd)"

if [ ! -x "$bin" ]; then
  echo "docker-rootfs: $bin is not an executable" >&2
  exit 1
fi

rm -rf "$out"
root="$out/rootfs"
mkdir -p "$root/usr/local/bin" "$root/etc/cartwheel" "$root/tmp" "$out/data"
chmod 1777 "$root/tmp"
chmod 0755 "$out/data"

strip --strip-debug -o "$root/usr/local/bin/cartwheel" "$bin"

# Every absolute path in ldd's output: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" and
# the loader "/lib64/ld-linux-x86-64.so.2 (0x…)". Symlinks are resolved (cp -L) into real files
# at the path the loader looks for.
libs=$(ldd "$bin" | grep -o '/[^ ]*' | sort -u)
if [ -z "$libs" ]; then
  echo "docker-rootfs: ldd lists no libraries for $bin (a static binary needs none: continuing)" >&2
fi
for lib in $libs; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done

cat >"$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
cartwheel:x:10001:10001:cartwheel:/data:/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
cartwheel:x:10001:
EOF
cp "$here/conf/docker/cartwheel.toml" "$root/etc/cartwheel/cartwheel.toml"

echo "docker-rootfs: $(find "$root" -type f | wc -l) files, $(du -sh "$root" | cut -f1) in $root"
