# wsteer-agent image: the node agent and wsteerctl on Debian 12, nothing of the build left behind.
#   podman build --build-arg BASE=localhost/wsteer-base:12 -t wsteer-agent .   (scripts/image/build.sh)
# The BPF program is compiled into the agent (bpftool skeleton), so the two binaries are all it
# ships. It runs as root because loading BPF needs capabilities no other user can be given in a
# pod without them being root's; grant only those (docs/container.md): cap-drop ALL, then
# BPF, NET_ADMIN (and PERFMON), with a read-only root filesystem and the host's bpffs mounted.
ARG BASE=debian:12-slim

FROM ${BASE} AS build
# Dependencies first, from the project's own script, so the layer survives source changes.
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN WSTEER_DEPS=build /src/scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
ARG JOBS=2
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DWSTEER_BUILD_TESTS=OFF -DWSTEER_BUILD_BENCHMARKS=OFF >/dev/null \
 && cmake --build /build -j"${JOBS}" --target wsteer-agent wsteerctl \
 && mkdir -p /out \
 && strip --strip-unneeded -o /out/wsteer-agent /build/bin/wsteer-agent \
 && strip --strip-unneeded -o /out/wsteerctl /build/bin/wsteerctl \
 && install -D -m 0644 /src/agent/cli/wsteerctl.bash-completion /out/wsteerctl.bash-completion

# The lab's echo backend and client burst (vagrant/, `--target demo`): not part of the agent image.
FROM build AS build-demo
ARG JOBS=2
RUN cmake --build /build -j"${JOBS}" --target wsteer-demo \
 && strip --strip-unneeded -o /out/wsteer-demo /build/bin/wsteer-demo

FROM ${BASE} AS demo
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN WSTEER_DEPS=runtime /tmp/install-deps.sh \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log /tmp/install-deps.sh
COPY --from=build-demo /out/wsteer-demo /usr/local/bin/
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/wsteer-demo"]

# The agent image (the default target).
FROM ${BASE} AS agent
# Only the shared libraries the binaries load (WSTEER_DEPS=runtime); the check below fails the
# build when that list misses one.
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN WSTEER_DEPS=runtime /tmp/install-deps.sh \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log /tmp/install-deps.sh
COPY --from=build /out/wsteer-agent /out/wsteerctl /usr/local/bin/
COPY --from=build /out/wsteerctl.bash-completion /usr/share/bash-completion/completions/wsteerctl
RUN for b in /usr/local/bin/wsteer-agent /usr/local/bin/wsteerctl; do \
      if ldd "$b" | grep 'not found'; then echo "$b: missing shared libraries" >&2; exit 1; fi; \
    done \
 && /usr/local/bin/wsteer-agent --help >/dev/null && /usr/local/bin/wsteerctl --help >/dev/null

LABEL org.opencontainers.image.title="wsteer-agent" \
      org.opencontainers.image.description="WebSocket load balancer node agent with in-kernel splicing"
# /sys/fs/bpf: the host's bpffs (pinned maps). /run/wsteer: the control socket (tmpfs or emptyDir
# when the root filesystem is read-only). 8080 clients, 9090 /metrics /healthz /readyz.
VOLUME ["/sys/fs/bpf"]
EXPOSE 8080 9090
USER 0:0
ENTRYPOINT ["/usr/local/bin/wsteer-agent"]
