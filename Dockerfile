# Dockerfile: the nodewarden image. Three stages:
#   build    Node 24 with a toolchain: npm ci, re2 compiled against Node 24, esbuild bundle of
#            agent/ into dist/nodewarden.cjs (re2 left external: it is a native addon).
#   journalctl  the slim base plus Debian's systemd package, from which journalctl and the
#            libraries the base lacks are taken.
#   runtime  slim Node 24 holding only the bundle, its third-party licence notices, re2's loader
#            and binary, the default rules, journalctl and a `log-counter` symlink to the bundle.
# Build:  docker build -t ghcr.io/nodewarden/nodewarden:0.1.0 .    (or podman build)
# It needs only the npm registry and Debian's: no GitHub, no nodejs.org, and no Dockerfile frontend image
# (plain Dockerfile syntax, so there is no `# syntax=` line for BuildKit to pull).
# `npm run test:image` builds it with podman and runs it as the DaemonSet does.
# scripts/emulate-image.mjs reproduces the runtime stage's COPYs in a temp dir and runs the bundle
# from there, so the file list below is tested without a Docker engine (test/manifests/).
ARG NODE_BUILD_IMAGE=node:24-bookworm
ARG NODE_RUNTIME_IMAGE=node:24-bookworm-slim

FROM ${NODE_BUILD_IMAGE} AS build
WORKDIR /src
# Dependencies first, for layer caching. Lifecycle scripts are skipped here (the project's
# `prepare` would build before the sources are copied) and the two packages that need theirs
# are rebuilt: esbuild, and re2, a native addon that is always compiled here from the
# lockfile's source against this Node's own headers (/usr/local/include/node):
#   RE2_DOWNLOAD_FORCE_BUILD  skips re2's prebuilt download from GitHub releases;
#   npm_config_nodedir        stops node-gyp fetching the headers from nodejs.org (node-gyp reads
#                             it from the environment; npm 11 warns "Unknown env config").
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && RE2_DOWNLOAD_FORCE_BUILD=1 npm_config_nodedir=/usr/local npm rebuild re2 esbuild
COPY tsconfig.json ./
COPY scripts/ scripts/
COPY agent/ agent/
COPY rules/ rules/
# Bundle; drop re2's debug info (about 20 MB); prove the bundle loads re2 and compiles the rules.
RUN npm run build \
 && strip --strip-debug node_modules/re2/build/Release/re2.node \
 && node -e "const RE2 = require('re2'); if (!new RE2('a+b').test('xaab')) process.exit(1)" \
 && node dist/nodewarden.cjs check-rules rules/*.json

# journalctl, the journald source's reader (README, journald), from Debian's systemd package
# without its recommends; only journalctl and the shared libraries of it that the runtime base
# lacks go on (libsystemd-shared, libcrypto, libkmod, libip4tc: about 8 MiB, against about 92 MiB
# for the whole package and its dependencies). Plus `log-counter`, NPD's counter helper: the
# bundle itself, busybox-style (it starts with `#!/usr/bin/env node` and has the exec bit), so
# NPD's counter configs need only `"path": "/usr/local/bin/log-counter"`.
FROM ${NODE_RUNTIME_IMAGE} AS journalctl
RUN find / -xdev -name '*.so*' > /tmp/base-libs \
 && apt-get update \
 && apt-get install -y --no-install-recommends systemd \
 && mkdir -p /out/usr/bin /out/usr/local/bin \
 && cp /usr/bin/journalctl /out/usr/bin/ \
 && for lib in $(ldd /usr/bin/journalctl | awk '$3 ~ /^\// { print $3 }'); do \
      grep -q "/$(basename "$lib")$" /tmp/base-libs && continue; \
      dir="$(readlink -f "$(dirname "$lib")")"; mkdir -p "/out$dir"; cp -L "$lib" "/out$dir/"; \
    done \
 && ln -s /app/dist/nodewarden.cjs /out/usr/local/bin/log-counter

FROM ${NODE_RUNTIME_IMAGE} AS runtime
LABEL org.opencontainers.image.title="nodewarden" \
      org.opencontainers.image.description="Kubernetes node agent: kernel problem detection and packet-drop events" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
# The bundle and its third-party licence notices (made by scripts/build.mjs from esbuild's
# metafile). The source map stays in the build stage (README, Image: what it would cost).
COPY --from=build /src/dist/nodewarden.cjs /src/dist/THIRD_PARTY_LICENSES.txt ./dist/
# re2 at run time is its package.json (main), re2.js (the loader) and the compiled addon.
COPY --from=build /src/node_modules/re2/package.json /src/node_modules/re2/re2.js /src/node_modules/re2/LICENSE ./node_modules/re2/
COPY --from=build /src/node_modules/re2/build/Release/re2.node ./node_modules/re2/build/Release/
# Default rules (the DaemonSet mounts the nodewarden-rules ConfigMap over them via NODEWARDEN_RULES).
COPY rules/ ./rules/
# journalctl and the libraries it needs that the slim base lacks (stage journalctl), and the
# `log-counter` symlink to the bundle (README, Image and log-counter).
COPY --from=journalctl /out/ /
ENV NODE_ENV=production
# glibc malloc, as the DaemonSet and `npm start` set it (README, Performance):
#   MALLOC_ARENA_MAX=2  two arenas instead of one per thread: 4-10 MiB less peak RSS under load;
#   GLIBC_TUNABLES      a fixed 32 KiB mmap threshold: V8's 32 KiB parser/compiler zone segments
#                       go to mmap and back to the kernel when freed, instead of fragmenting the
#                       brk heap, which glibc then cannot trim: about 10 MiB less idle and peak RSS.
ENV MALLOC_ARENA_MAX=2 \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=32768
EXPOSE 20257
# Runs as root, deliberately: the agent reads /dev/kmsg, which needs CAP_SYSLOG and access to the
# host's device; the DaemonSet runs it privileged with a read-only root filesystem.
USER root
# A small heap keeps the agent under its 100Mi limit (see the README's footprint numbers).
# --no-concurrent-recompilation: optimizing compiles run on the main thread, one function at a
# time, instead of queueing jobs with their zone memory for background threads: 1-3 MiB less peak
# RSS under a burst.
# --max-opt=2: Maglev, not TurboFan, is the top tier. Once TurboFan has compiled anything, about
# 6 MiB more of the node binary's pages stay resident; under the 2,000 records/s kmsg flood the
# peak RSS is 6-7 MiB lower, for the same CPU (W1 within the noise to 10% slower).
# --invocation-count-for-maglev=5000: Maglev starts on functions called 5,000 times, not 400, so
# start-up code (rule loading, the first pod list) stays in Sparkplug and an agent with nothing to
# read idles 2.4 MiB lower. Node 24 only: `npm start`
# keeps TurboFan for Node 20, whose Maglev is not production (README, Memory cuts: the JIT tier).
ENTRYPOINT ["node", "--max-semi-space-size=1", "--max-old-space-size=48", "--no-concurrent-recompilation", "--max-opt=2", "--invocation-count-for-maglev=5000", "/app/dist/nodewarden.cjs"]
CMD ["run"]
