# Build and run Andi. The image holds the binary and the shipped policies; mount your own
# policy directory over /app/policies to change them (it is hot-reloaded).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin andi

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /app andi
WORKDIR /app
COPY --from=build /src/target/release/andi /usr/local/bin/andi
COPY policies /app/policies
USER andi
ENV ANDI_LISTEN=0.0.0.0:8080 ANDI_POLICY_DIR=/app/policies
EXPOSE 8080
ENTRYPOINT ["andi"]
CMD ["serve"]
