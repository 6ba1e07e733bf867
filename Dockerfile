# The `ringkv/dynamo` image: one binary, `dynamo`, for the storage nodes (`dynamo node`, the default) and the
# operator (`dynamo operator`). test/unit/packaging/dockerfile.test.ts keeps this file honest, since no image is built
# on the machines we test on: what the final stage copies must exist after `npm run build`, and the entrypoint must run.

# An LTS line of Node.js. Node 20, the oldest line package.json accepts, reached its end of life in April 2026.
ARG NODE_VERSION=24

# Build stage: every dependency, the TypeScript sources, and the compiler. Nothing of it but dist/ is kept.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
# Manifests first, so the dependency layer is reused until package-lock.json changes.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
# The folders tsconfig.build.json compiles; tests, benchmarks and docs stay out of the image.
COPY lib ./lib
COPY node ./node
COPY operator ./operator
COPY driver ./driver
COPY dev ./dev
COPY cli ./cli
COPY client ./client
COPY kubectl ./kubectl
COPY backup ./backup
COPY scripts/copy-assets.mjs ./scripts/
RUN npm run build

# Final stage: production dependencies and the compiled JavaScript only.
FROM node:${NODE_VERSION}-bookworm-slim
# glibc's allocator otherwise keeps the memory of large request bodies (1 MiB values) after they are freed: its mmap
# threshold grows to the largest block freed, and later blocks come from arenas that rarely shrink. A fixed threshold
# returns every block of 128 KiB or more to the system when it is freed, and two arenas bound fragmentation across
# threads; measured with `npm run test:flood`, resident memory after a burst of large writes falls back instead of
# staying near its peak (docs/security.md).
# V8's young generation is set to 16 MiB semi-spaces, whatever the image's Node.js would choose: with 2 MiB ones each
# request's and each streamed page's buffers outlived a scavenge, were promoted and left to the old generation's
# collector, which cost more CPU per request and a higher client p99 during a handoff (docs/performance.md, round 17).
# The old generation's growing factor is set by `dynamo node` itself (node/main.ts, round 26): NODE_OPTIONS does not
# take that V8 flag, and the operator, which runs this image too, keeps V8's own.
# The pace does not count collection pauses against streaming. A pod that sets NODE_OPTIONS itself replaces this.
ENV NODE_ENV=production MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 NODE_OPTIONS=--max-semi-space-size=16
WORKDIR /app
COPY package.json package-lock.json ./
# classic-level ships prebuilt LevelDB bindings for linux x64 and arm64, so this needs no compiler; the cache is
# dropped because nothing installs at run time.
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /src/dist ./dist
# The storage pods and the chart's operator pods run as 10001 (operator/resources/stateful-set.ts, the chart's
# values.yaml); the image has the same user, so it also runs as non-root outside Kubernetes.
RUN groupadd --system --gid 10001 dynamo \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin dynamo
USER 10001:10001
# `dynamo node` and `dynamo operator` shut down cleanly on SIGTERM themselves (the operator releases its Lease), so
# Node.js runs as PID 1 without an init shim. V8's Maglev tier is left out, as `dynamo dev` leaves it out of its nodes:
# under YCSB-A the nodes spent 6-8.5% less CPU per operation without it (docs/performance.md, round 34), and NODE_OPTIONS
# does not take the flag.
ENTRYPOINT ["node", "--no-maglev", "/app/dist/cli/main.js"]
CMD ["node"]
