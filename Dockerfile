# The KWS control plane (`npm start`: main/embedded.ts under tsx), as used by docker-compose.yml.
# Configuration comes from the environment; see shared/config.ts for every variable.
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production \
    PORT=8080 \
    KWS_DATA_DIR=/data

# Dependencies first, so code changes do not reinstall them. tsx, which runs the TypeScript
# sources at `npm start`, is in "dependencies" (not devDependencies), so --omit=dev keeps it.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# tsconfig.json is read by tsx at run time (JSX settings); drizzle/ holds the migrations that
# are applied at every start.
COPY . .

# Embedded state (PGlite) when DATABASE_URL is not set; unused in the compose stack.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node

EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["npm", "start"]
