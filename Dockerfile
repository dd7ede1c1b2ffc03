# Builds lockcr and runs its unit tests in a Debian 12 image; the result is a small image with the
# binary. The integration and container tests need a real kernel, cgroups and ptrace: run them on
# the host with scripts/test.sh.
FROM debian:12 AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config nlohmann-json3-dev libsimdjson-dev libcap-ng-dev doctest-dev libcli11-dev \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    && cmake --build /build -j"$(nproc)" --target lockcr unit_tests \
    && /build/unit_tests

FROM debian:12
RUN apt-get update && apt-get install -y --no-install-recommends libcap-ng0 libsimdjson14 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/lockcr /usr/sbin/lockcr
ENTRYPOINT ["/usr/sbin/lockcr"]
