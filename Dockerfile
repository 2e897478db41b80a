# checklist-exporter image: build with the Rust toolchain, run on debian:bookworm-slim as a
# non-root user. Build and run (see README.md, "Docker"):
#   docker build -t checklist-exporter .
#   docker run -d -p 9847:9847 -v "$PWD/config:/etc/checklist-exporter:ro" checklist-exporter

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so that a change to the sources does not rebuild every crate.
COPY Cargo.toml Cargo.lock build.rs ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
COPY templates ./templates
COPY static ./static
# Cargo decides what to rebuild by modification time; the stub's outputs are newer than
# copied files whose dates come from the build context.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
# ca-certificates: the tls and http checks verify chains against the system trust store.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system checklist-exporter \
    && useradd --system --gid checklist-exporter --home-dir /var/lib/checklist-exporter \
       --no-create-home --shell /usr/sbin/nologin checklist-exporter \
    && install -d -o checklist-exporter -g checklist-exporter -m 0750 /var/lib/checklist-exporter \
    && install -d -m 0755 /etc/checklist-exporter
COPY --from=build /src/target/release/checklist-exporter /usr/local/bin/checklist-exporter
# An example config so that the image runs as is; mount your own over /etc/checklist-exporter.
COPY config/checklist.toml /etc/checklist-exporter/checklist.toml

USER checklist-exporter:checklist-exporter
# The go-live baseline and attestations are written here: keep it on a volume.
WORKDIR /var/lib/checklist-exporter
VOLUME ["/var/lib/checklist-exporter"]
EXPOSE 9847

# The slim image has no curl or wget; bash's /dev/tcp speaks enough HTTP for /-/healthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9847 && printf 'GET /-/healthy HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q '^HTTP/1\\.[01] 200 '"]

ENTRYPOINT ["/usr/local/bin/checklist-exporter"]
CMD ["--config.file=/etc/checklist-exporter/checklist.toml", "--web.listen-address=:9847", "--baseline.file=/var/lib/checklist-exporter/baseline.json"]
