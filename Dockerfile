# facestream in a container: what docs/cluster/docker-compose.yml builds for each node.
# Only Debian's packages and the npm registry are needed (the models come from pinned npm packages).
FROM node:20-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
# compiles TypeScript and fetches the models into models/cache (npm ci runs `prepare`)
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
ENV FACESTREAM_HOST=0.0.0.0 FACESTREAM_PORT=8080 FACESTREAM_DATA_DIR=/data
EXPOSE 8080
CMD ["node", "dist/src/cli/main.js", "serve"]
