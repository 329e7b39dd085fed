# syntax=docker/dockerfile:1
# skillgate: multi-stage build. The build stage compiles TypeScript with the dev dependencies;
# the final stage has production dependencies only (tsx is one, so `npm run webhook:set`,
# `npm run alert` and `npm run skills` work inside the container), python3, and a non-root user.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
# better-sqlite3 downloads a prebuilt binary; python3/make/g++ are only its fallback build tools.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
# `npm ci` runs `prepare` (tsc -> dist/); then drop the dev dependencies.
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM node:${NODE_VERSION}-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PYTHONDONTWRITEBYTECODE=1 \
    TLS=off \
    HOST=0.0.0.0 \
    PORT=9000 \
    ADMIN_HOST=127.0.0.1 \
    ADMIN_PORT=9001 \
    DATA_DIR=/data \
    SKILLS_DIR=/app/skills \
    WORKSPACE_DIR=/workspace \
    PYTHON_BIN=/usr/bin/python3
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# src/, scripts/ and fakes/ are for the CLIs (run by tsx from source); the server runs dist/.
COPY package.json ./
COPY src ./src
COPY scripts ./scripts
# The loopback fakes of Telegram, OpenAI and Discord: `npm run demo` and `npm run bench` use them.
COPY fakes ./fakes
COPY skills ./skills
# Bytecode for the skill host package, made once here: the image is read-only at run time and a
# cold skill call would otherwise recompile the host on every call.
RUN python3 -m compileall -q src/skills/skillgate_host
# The image's own user "node" (uid 1000) owns only the state directories.
RUN mkdir -p /data /workspace && chown node:node /data /workspace
USER node
VOLUME ["/data", "/workspace"]
EXPOSE 9000 9001
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.ADMIN_PORT||9001)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini forwards SIGTERM to node (graceful drain) and reaps skill processes.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]
