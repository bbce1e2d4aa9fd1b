# syntax=docker/dockerfile:1.7
# One recipe for every tracechat service:
#   docker build --build-arg SERVICE=logic -t tracechat-logic .
# SERVICE is gateway, logic, task, placement or journal. docker-compose.yml builds each one.
ARG SERVICE=gateway
ARG NODE_IMAGE=node:22.21.1-bookworm-slim

FROM ${NODE_IMAGE} AS build
ENV CI=true TURBO_TELEMETRY_DISABLED=1
RUN npm install -g pnpm@10.34.9
WORKDIR /src
# The store is filled from the lockfile alone, so this layer survives source changes.
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json .npmrc ./
RUN pnpm fetch
COPY . .
RUN pnpm install --frozen-lockfile --offline
# Declared here, not earlier: every RUN after it depends on its value, and the layers above are
# shared by all the services' images.
ARG SERVICE
RUN pnpm --filter "@tracechat/${SERVICE}..." build
# --legacy: the workspace links its packages instead of injecting them (pnpm 10 asks for one or
# the other); the deployed folder gets real copies of each workspace dependency's "files".
RUN pnpm deploy --filter "@tracechat/${SERVICE}" --prod --legacy /out && rm -rf /out/src /out/test /out/tsconfig*.json
# The gateway serves the web chat at / (WEB_ROOT below): its image carries apps/web's build.
RUN if [ "${SERVICE}" = gateway ]; then \
      mkdir -p /out/web && \
      if [ -f apps/web/package.json ]; then \
        pnpm --filter "@tracechat/web..." build && cp -R apps/web/dist/. /out/web/; \
      fi; \
    fi

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /out ./
# Health probe shared by the image and docker-compose.yml: node <probe> PORT [PATH].
COPY <<'EOF' /opt/tracechat/probe.js
const [port, path = '/readyz'] = process.argv.slice(2);
fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) }).then(
  (res) => process.exit(res.ok ? 0 : 1),
  () => process.exit(1),
);
EOF
USER node
CMD ["node", "--require", "@tracechat/telemetry/register", "dist/main.js"]

# One small stage per service for its ports and health probe; the env names are the service's own
# (src/config.ts), read at run time so an overridden port is probed where it listens.
FROM runtime AS service-gateway
ENV WEB_ROOT=/app/web
# HTTP/WebSocket (and MQTT over WebSocket at /mqtt), PushService, MQTT 5 (MQTT_PORT's default)
EXPOSE 8080 50051 1884
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node /opt/tracechat/probe.js "${GATEWAY_PORT:-8080}" /readyz

FROM runtime AS service-logic
EXPOSE 50052 9152
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node /opt/tracechat/probe.js "${HEALTH_PORT:-9152}" /readyz

FROM runtime AS service-task
EXPOSE 9153
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node /opt/tracechat/probe.js "${HEALTH_PORT:-9153}" /readyz

FROM runtime AS service-placement
EXPOSE 50053 9154
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node /opt/tracechat/probe.js "${HEALTH_PORT:-9154}" /readyz

FROM runtime AS service-journal
# Shard segments live here; docker-compose.yml and the StatefulSet mount a volume over it.
USER root
RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME /app/data
EXPOSE 50054 9155
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node /opt/tracechat/probe.js "${HEALTH_PORT:-9155}" /readyz

FROM service-${SERVICE}
