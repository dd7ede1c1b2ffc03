# The lockcr image for the Kubernetes DaemonSet (examples/kubernetes/): the same files a
# `cmake --install` or the Debian package puts on a host (/usr/sbin/lockcr, lockcr(1), the hooks.d
# files, /usr/share/lockcr/criu/runc.conf, checkpointctl-locks), installed from the .deb this build
# makes, with its Depends resolved by apt.
#
# No registry is named: BASE is a local Debian 12 image, made with scripts/make-base-image.sh
# (debootstrap from the machine's own mirror, then podman import):
#   scripts/make-base-image.sh
#   podman build --build-arg BASE=localhost/lockcr-debian-base:bookworm -t lockcr .
# The unit tests run in the build stage; the integration and container tests need a real kernel,
# cgroups and ptrace: run them on the host with scripts/test.sh.
ARG BASE=localhost/lockcr-debian-base:bookworm

FROM $BASE AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config dpkg-dev file \
        nlohmann-json3-dev libsimdjson-dev libcap-ng-dev doctest-dev libcli11-dev libyaml-cpp-dev \
        libarchive-dev protobuf-c-compiler libprotobuf-c-dev scdoc \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    && cmake --build /build -j"$(nproc)" --target lockcr man unit_tests \
    && /build/unit_tests \
    && cd /build && cpack -G DEB -B /out

FROM $BASE
COPY --from=build /out/lockcr_*.deb /tmp/
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /tmp/lockcr_*.deb \
    && rm -rf /var/lib/apt/lists/* /tmp/lockcr_*.deb
ENTRYPOINT ["/usr/sbin/lockcr"]
CMD ["--help"]
