# softphone-proxy production image.
# Build:  docker build -t softphone-proxy .
# Run:    docker run -p 8443:8443 -v /etc/softphone/certs:/certs:ro -v softphone-data:/data \
#           -e SOFTPHONE_CTI_URL=... -e SOFTPHONE_SALESFORCE_URL=... softphone-proxy
# Certificates are mounted, never baked in: /certs/tls.crt (full chain) and /certs/tls.key.
# tests/integration/test_wheel.py builds the wheel with this file's build command, installs it
# as the runtime stage does, and starts this file's CMD.

# Salesforce's connector library for the Voice connector page (/voice), from the npm registry
# at build time, never from this repository; pinned as scripts/_bootstrap pins it.
FROM node:20-slim AS voice
RUN npm install --prefix /scv --no-audit --no-fund --ignore-scripts --loglevel=error \
    @salesforce/scv-connector-base@3.6.2

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY softphone ./softphone
COPY proxy ./proxy
COPY static ./static
# The project and every dependency as wheels, so the runtime stage installs offline.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin softphone \
    && mkdir -p /app /data && chown softphone /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels softphone-proxy && rm -rf /wheels
COPY --from=voice /scv/node_modules/@salesforce/scv-connector-base /opt/scv-connector-base
ENV SOFTPHONE_VOICE_CONNECTOR_LIBRARY=/opt/scv-connector-base \
    SOFTPHONE_DATABASE_URL=sqlite+aiosqlite:////data/softphone.db \
    SOFTPHONE_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
USER softphone
WORKDIR /app
EXPOSE 8443
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD ["python", "-c", "import ssl, urllib.request; urllib.request.urlopen('https://127.0.0.1:8443/healthz', context=ssl._create_unverified_context(), timeout=4)"]
CMD ["softphone-proxy", "serve", "--host", "0.0.0.0", "--port", "8443", "--certfile", "/certs/tls.crt", "--keyfile", "/certs/tls.key"]
