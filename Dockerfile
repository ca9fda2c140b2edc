# Cartwheel container image: FROM scratch, holding the cartwheel binary, the few shared libraries
# it links (glibc, libgcc_s), a default configuration and nothing else (no shell). It runs as the
# non-root user 10001, keeps its data in the volume /data, listens on 6379 (clients) and 16379
# (cluster), reads /etc/cartwheel/cartwheel.toml, CARTWHEEL_* environment variables and flags
# (`docker run cartwheel --maxclients 100` passes flags), answers its health check with
# `cartwheel ping`, and shuts down gracefully on SIGTERM (`docker stop`).
#
# Two ways to fill it; both run scripts/docker-rootfs.sh, so the images are laid out alike:
#   docker build -t cartwheel .
#       from source in a rust:bookworm builder (the default, last stage; another builder image:
#       --build-arg RUST_IMAGE=…). Needs BuildKit, the default builder since Docker 23: the
#       legacy builder runs every stage, the prebuilt one too, which fails without its files.
#   scripts/docker-build.sh
#       `--target prebuilt`: copies a binary built on the host (cargo build --release), so no
#       image is pulled. CI uses this (scripts/docker-test.sh); the host needs glibc ≥ 2.34.

ARG RUST_IMAGE=rust:1-bookworm

# Everything but the files: shared by both ways.
FROM scratch AS runtime
# NO_COLOR: plain log lines in `docker logs` (no ANSI colours).
ENV CARTWHEEL_CONFIG=/etc/cartwheel/cartwheel.toml NO_COLOR=1
USER 10001:10001
EXPOSE 6379 16379
STOPSIGNAL SIGTERM
# Follows CARTWHEEL_PORT / CARTWHEEL_REQUIREPASS / the config file, like the server. A port set
# with a command-line flag instead needs the same flag here (or set it through the environment).
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/cartwheel", "ping"]
ENTRYPOINT ["/usr/local/bin/cartwheel"]

# A binary built outside Docker: scripts/docker-build.sh fills docker/prebuilt/ first.
FROM runtime AS prebuilt
COPY docker/prebuilt/rootfs/ /
COPY --chown=10001:10001 docker/prebuilt/data/ /data/
VOLUME ["/data"]

# From source.
FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
COPY conf/docker conf/docker
COPY scripts/docker-rootfs.sh scripts/
RUN cargo build --release --locked --bin cartwheel \
    && scripts/docker-rootfs.sh target/release/cartwheel /out

FROM runtime AS image
COPY --from=build /out/rootfs/ /
COPY --from=build --chown=10001:10001 /out/data/ /data/
VOLUME ["/data"]
