# Builds both servers in one image; docker-compose.yml picks the binary.
FROM rust:1-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev libsqlite3-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p auth-server -p resource-server

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 libsqlite3-0 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --create-home app
COPY --from=build /src/target/release/auth-server /src/target/release/resource-server /usr/local/bin/
USER app
WORKDIR /data
EXPOSE 8080 8081
CMD ["auth-server"]
