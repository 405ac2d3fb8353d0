# patchflow: one binary, any subset of services (`patchflow serve <service>`).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p patchflow

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 patchflow \
    && install -d -o patchflow -g patchflow /var/lib/patchflow
COPY --from=build /src/target/release/patchflow /usr/local/bin/patchflow
COPY examples /etc/patchflow/examples
USER patchflow
WORKDIR /var/lib/patchflow
ENTRYPOINT ["patchflow"]
