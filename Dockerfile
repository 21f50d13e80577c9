# zbmcp, hosted: Streamable HTTP (and legacy SSE) on port 8000, per-agent API keys from the config file.
#   docker build -t zbmcp .
#   docker run -p 8000:8000 -v ./zbmcp.yaml:/config/zbmcp.yaml:ro -v zbmcp-data:/data --stop-timeout 35 zbmcp
# See docs/hosting.md.

# Any Debian-like image with python (3.11 or newer), python -m venv and pip will do; CI, which cannot reach
# the public registry, passes one made from Debian's packages (.ci/debian-base).
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY zbmcp ./zbmcp
COPY tool_manifests ./tool_manifests
COPY catalog/generated.json ./catalog/generated.json
# A venv without pip: only zbmcp and what it needs end up in the image.
RUN python -m venv --without-pip /opt/zbmcp \
 && pip --python /opt/zbmcp/bin/python install --no-cache-dir --no-compile . \
 && /opt/zbmcp/bin/python -m compileall -q /opt/zbmcp/lib

FROM ${BASE_IMAGE}
RUN groupadd --system --gid 10001 zbmcp \
 && useradd --system --uid 10001 --gid zbmcp --home-dir /data --shell /usr/sbin/nologin zbmcp \
 && mkdir -p /config /data \
 && chown zbmcp:zbmcp /data
COPY --from=build /opt/zbmcp /opt/zbmcp
ENV PATH="/opt/zbmcp/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    ZBMCP_CONFIG=/config/zbmcp.yaml \
    ZBMCP_HOME=/data
# /config: the config file (mount it read-only). /data: the Zoho token store and usage counters (writable).
VOLUME ["/config", "/data"]
USER zbmcp:zbmcp
EXPOSE 8000
# slim has no curl; /healthz needs no key and answers 503 while the server drains.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
# SIGTERM: stop accepting, let calls in flight finish (up to 30 s), then exit. Give `docker stop` that long.
STOPSIGNAL SIGTERM
ENTRYPOINT ["zbmcp"]
CMD ["serve", "--transport", "http", "--host", "0.0.0.0", "--port", "8000"]
