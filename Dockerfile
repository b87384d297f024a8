# Build and run Andi. The image holds the binary and the shipped policies; mount your own
# policy directory over /app/policies to change them (it is hot-reloaded). Without a
# DATABASE_URL it keeps a SQLite file in /var/lib/andi, a volume the `andi` user owns (the
# file and its WAL companions are created beside it); tests/dockerfile.rs holds this.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin andi

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --user-group --home /app andi \
    && install -d -o andi -g andi -m 0750 /var/lib/andi
WORKDIR /app
COPY --from=build /src/target/release/andi /usr/local/bin/andi
COPY policies /app/policies
USER andi
VOLUME /var/lib/andi
ENV ANDI_LISTEN=0.0.0.0:8080 ANDI_POLICY_DIR=/app/policies \
    DATABASE_URL=sqlite:///var/lib/andi/andi.db?mode=rwc
EXPOSE 8080
ENTRYPOINT ["andi"]
CMD ["serve"]
