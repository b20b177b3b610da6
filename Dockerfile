# syntax=docker/dockerfile:1
#
# secret-steward container image: the CLI as entrypoint, so each CronJob sets only `args`
# (e.g. ["backup"]).
#
#   docker build -t registry.example.com/secret-steward:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#
# Base: Node 24 LTS, the major the test suite runs on (package.json engines and the node@24
# devDependency). Debian slim rather than Alpine: the official Node builds are glibc builds
# (Alpine's musl images are an unofficial-builds tier), and prebuilt binaries in our
# dependency tree (esbuild, the native TypeScript compiler) are published for glibc first.
# Pin NODE_IMAGE by digest in your release pipeline (node:24-bookworm-slim@sha256:...).
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: dev dependencies, TypeScript -> dist/ -----------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the root `prepare` script would run tsc before the sources are here, and
# the node@24 devDependency's installer is pointless on an image that already is Node 24.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY jobs ./jobs
COPY shared ./shared
RUN npm run build

# ---- deps: production dependencies only ----------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts run in the image: nothing in the production tree needs one (the test
# test/dockerfile.test.ts runs the CLI from exactly this install).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- runtime -------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="secret-steward" \
      org.opencontainers.image.description="Scheduled Kubernetes Secret rotation, encrypted backup and verified restore, run as CronJobs." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
# npm and corepack are not needed to run the CLI; removing them shrinks what can be attacked.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
WORKDIR /app
# package.json is needed at run time: "type": "module" makes dist/*.js ES modules, and the
# CLI reads its version from it.
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# Read-only root filesystem: the only writable place is /tmp (an emptyDir in the pod).
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    HOME=/tmp \
    TMPDIR=/tmp
# Numeric, so that `runAsNonRoot` can be verified by the kubelet without a passwd lookup.
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/jobs/cli.js"]
CMD ["--help"]
