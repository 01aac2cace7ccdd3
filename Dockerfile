# syntax=docker/dockerfile:1
# Build: compile TypeScript and the SQLite driver (better-sqlite3 builds from source: the full
# image has python3, make and g++), then drop the dev dependencies.
FROM node:24-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY strategies ./strategies
COPY commands ./commands
RUN npm run build && npm prune --omit=dev

# Run: production dependencies (with the compiled driver) and compiled JavaScript only, as the
# unprivileged "node" user. Same Debian (bookworm) as the build, so the driver's binary fits.
# Node 24 is the current LTS (20 left support in April 2026); the code runs on 20 and later.
# test/docker-layout.test.ts lays this stage out line by line and starts the bot and CLI from it.
FROM node:24-bookworm-slim
# The health endpoint (HTTP_PORT) answers on 127.0.0.1 inside the container only, for HEALTHCHECK;
# set HTTP_HOST=0.0.0.0 and publish the port to reach it from outside (keep it behind a proxy).
ENV NODE_ENV=production HTTP_PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY data/samples ./data/samples
RUN mkdir -p /app/data && chown -R node:node /app/data
USER node
VOLUME ["/app/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["node", "dist/src/healthcheck.js"]
CMD ["node", "dist/src/main.js"]
