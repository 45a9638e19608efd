# kiro-gateway container image.
#
#   docker build -t kiro-gateway .
#   docker run -p 8080:8080 -e KIRO_HOST=0.0.0.0 -e KIRO_CLIENT_API_KEY=… -v $PWD/credentials.json:/data/credentials.json kiro-gateway
#
# Three stages: `build` compiles (TypeScript + admin UI) with the full dependency tree, `deps` installs
# production dependencies only, and the runtime stage gets those plus the built output and nothing else.
# The runtime needs no shell and writes only to /tmp and to the credentials directory (/data), so it
# runs with readOnlyRootFilesystem on Kubernetes. test/deploy/image.test.ts reproduces the runtime
# stage on disk and starts the gateway from it.
ARG NODE_IMAGE=node:20.19.5-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
COPY admin-ui ./admin-ui
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="kiro-gateway" \
      org.opencontainers.image.description="Anthropic Messages API gateway in front of the Kiro API, built to scale out behind Redis" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/kiro-gateway/kiro-gateway"
# NODE_OPTIONS: Node sizes V8 from the container's memory limit; at 512Mi it would get 1 MiB young-generation
# semi-spaces, and a gateway allocating ~70 KB per request then spends about 2x the CPU per request in
# garbage collection. 16 MiB (what V8 picks with no limit) costs ~30 MiB more peak RSS under full load
# (bench/README.md, "What the peak RSS under load is made of"). Set NODE_OPTIONS to change it.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=16 \
    KIRO_HOST=0.0.0.0 \
    KIRO_PORT=8080 \
    KIRO_CREDENTIALS=/data/credentials.json \
    KIRO_LOG_PRETTY=false
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/admin-ui/dist ./admin-ui/dist
# 1000 is the `node` user of the official image; numeric so runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
# Kubernetes ignores HEALTHCHECK and uses the chart's probes; this one is for docker run / compose.
# Node's own fetch: the image has no curl and needs no shell.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.KIRO_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself, which starts the gateway's drain
# (readiness 503, then in-flight streams finish within shutdown.graceMs). The gateway handles
# SIGTERM/SIGINT, so no init process is needed.
CMD ["node", "dist/src/main.js"]
