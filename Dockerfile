# syntax=docker/dockerfile:1
# Build: compile TypeScript with the dev dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY strategies ./strategies
COPY commands ./commands
RUN npm run build

# Run: production dependencies and compiled JavaScript only, as the unprivileged "node" user.
# Node 24 is the current LTS (20 left support in April 2026); the code runs on 20 and later.
# test/docker-layout.test.ts lays this stage out line by line and starts the bot and CLI from it.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY data/samples ./data/samples
RUN mkdir -p /app/data && chown -R node:node /app/data
USER node
VOLUME ["/app/data"]
CMD ["node", "dist/src/main.js"]
