# Fedgate image (`fedgate serve`, `fedgate worker`, `fedgate ai-proxy`). TypeScript runs directly on Node 24 (type stripping): no build step.
FROM node:24-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY ai-proxy ./ai-proxy
COPY bin ./bin
COPY gateway ./gateway
COPY metadata ./metadata
COPY migrations ./migrations
COPY shared ./shared
COPY workers ./workers
ENV FEDGATE_HOST=0.0.0.0 FEDGATE_DATA_DIR=/data
# The data directory (the vault master key is generated there) belongs to the user Fedgate runs
# as. Created before VOLUME: a new named volume starts as a copy of it, owner included; without
# this it was root's, and the first start failed writing the master key (EACCES).
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
# S3, admin API, AI proxy; 9002: /health, /ready, /metrics of `fedgate worker`.
EXPOSE 9000 9001 8080 9002
USER node
# The node flags of package.json's `start` script (test/unit/start-flags.test.ts keeps them equal):
# a young generation of 8 MiB, collected every 8 MiB streamed (--expose-gc, shared/observability/gc-pacer.ts),
# keeps the peak RSS of a streaming gateway low; --heap-growing-percent=100 keeps V8 out of
# back-to-back major GCs during large transfers (bench/README.md).
CMD ["node", "--max-semi-space-size=8", "--expose-gc", "--heap-growing-percent=100", "bin/fedgate.ts", "serve"]
