# syntax=docker/dockerfile:1
#
# The standalone host (host/cli.ts --standalone) as a container image: TwinGuard's functions against a real IoT Hub
# and storage account, without the Azure Functions host. README "Container" says how to run it; .ci/production-
# install-check runs the runtime stage's steps (same files, same install, same command) without Docker.
#
#   docker build -t twinguard .
#   docker run --rm -p 7071:7071 -e IOTHUB_CONNECTION_STRING=… -e IOTHUB_EVENTS_CONNECTION=… \
#     -e AzureWebJobsStorage=… -e STANDALONE_FUNCTION_KEY=… twinguard
#
# Node 22: Node 20 left maintenance on 2026-04-30 (no more security releases for a network-facing runtime), every
# production dependency declares node >=20 (the @azure/* packages) and Azurite, a build-stage devDependency,
# declares >=22. CI runs the tests on the Node of its machine (.ci/run prints it). Pin an exact version (or a
# digest) for reproducible builds: docker build --build-arg NODE_IMAGE=node:22.x.y-slim .
ARG NODE_IMAGE=node:22-slim

# --- build: dev dependencies (TypeScript), compiled to dist/ --------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
# What dist/host/cli.js and the functions compile from; emulator/ only because host/embedded.ts (the development
# mode, loaded on demand) type-checks against it. Tests, bench/ and testing/ stay out of the image.
COPY functions ./functions
COPY shared ./shared
COPY host ./host
COPY emulator ./emulator
RUN npm run build

# --- runtime: production dependencies only, non-root ---------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    STANDALONE_HTTP_HOST=0.0.0.0 \
    STANDALONE_HTTP_PORT=7071 \
    STANDALONE_LOG_FORMAT=json
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no production dependency has an install script (the lockfile's hasInstallScript names only a
# devDependency), so none may run.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# host.json next to package.json: the standalone host reads its queue options there (readHostJson).
COPY host.json ./
COPY --from=build /src/dist/functions ./dist/functions
COPY --from=build /src/dist/shared ./dist/shared
COPY --from=build /src/dist/host ./dist/host
# The dashboard's browser files, served by functions/dashboard.ts from dashboard/ beside dist/.
COPY dashboard ./dashboard
# Files stay root-owned and read-only to the app; nothing is written to disk at run time.
USER node
EXPOSE 7071
# SIGTERM drains (StandaloneHost.stop): /readyz answers 503 at once, in-flight batches finish and checkpoint, queue
# messages and timers complete, then the process exits 0. Give it time: docker stop -t 60, or Kubernetes
# terminationGracePeriodSeconds.
STOPSIGNAL SIGTERM
# For plain Docker and Compose (Kubernetes ignores it: use the /healthz and /readyz probes there). The slim image has
# no curl, so Node asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.STANDALONE_HTTP_PORT||7071)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node itself as PID 1 (not npm, which does not pass SIGTERM on): cli.ts handles SIGTERM and SIGINT.
CMD ["node", "dist/host/cli.js", "--standalone"]
