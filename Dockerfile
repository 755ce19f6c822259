# syntax=docker/dockerfile:1
# falconet: multi-stage build on the current Node.js LTS. The final image holds only the compiled
# program and production dependencies, runs as a numeric non-root user and writes only to its
# data dir, so it runs with readOnlyRootFilesystem: true.
ARG NODE_VERSION=26

FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:${NODE_VERSION}-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:${NODE_VERSION}-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="falconet" \
      org.opencontainers.image.description="Falco / Fluent Bit companion for Amazon EKS: alerts in, ASFF findings to Security Hub, durably" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/falconet/falconet"
ENV NODE_ENV=production \
    FALCONET_DATA_DIR=/var/lib/falconet
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The console's static files (served from /ui/assets; resolved next to dist/).
COPY assets ./assets
COPY package.json ./
RUN mkdir -p /var/lib/falconet && chown 10001:10001 /var/lib/falconet
USER 10001:10001
VOLUME ["/var/lib/falconet"]
EXPOSE 2801
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.FALCONET_PORT||2801)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Same program as `npm start` (package.json: node dist/cli/main.js serve).
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve"]
