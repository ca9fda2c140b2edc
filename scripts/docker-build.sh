#!/usr/bin/env bash
# Builds the container image from a cartwheel binary built on this host, pulling no image
# (the Dockerfile's `prebuilt` stage is FROM scratch):
#   scripts/docker-build.sh [TAG]        default tag: cartwheel:latest
# Runs `cargo build --release --bin cartwheel` (a no-op when it is up to date), assembles the
# image's files with scripts/docker-rootfs.sh into docker/prebuilt/ (git-ignored), then
# `docker build --target prebuilt`. The binary links the host's glibc, which goes into the image
# with it. Elsewhere, `docker build -t cartwheel .` builds from source instead (see Dockerfile).
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-cartwheel:latest}
target_dir=${CARGO_TARGET_DIR:-target}

echo "== cargo build --release --bin cartwheel"
cargo build --release --bin cartwheel
scripts/docker-rootfs.sh "$target_dir/release/cartwheel" docker/prebuilt

echo "== docker build --target prebuilt -t $tag"
docker build --target prebuilt -t "$tag" .
size=$(docker image inspect -f '{{.Size}}' "$tag")
echo "docker-build: $tag is $((size / 1024 / 1024)) MiB ($size bytes)"
