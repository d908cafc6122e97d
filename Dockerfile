# syntax=docker/dockerfile:1
# InfraWhisperer image: the locked environment (uv.lock) in a slim, non-root runtime.
#
#   docker build -t infrawhisperer:0.1.0 .
#   docker build --build-arg WITH_CHROMIUM=true -t infrawhisperer:0.1.0-web .   # dashboard snapshots
#
# Both stages use the same Python image: the venv's interpreter links to /usr/local/bin/python3.11,
# and the project is installed editable at /app (runbooks are read next to the source), so the venv
# and the source must sit at the same paths in both.

ARG PYTHON_IMAGE=python:3.11-slim
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.8

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first, in their own layer: a source change does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project
COPY bot ./bot
COPY agents ./agents
COPY tools ./tools
COPY guardrails ./guardrails
COPY scheduled_checks ./scheduled_checks
COPY sandbox ./sandbox
COPY store ./store
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev

FROM ${PYTHON_IMAGE} AS runtime
ARG WITH_CHROMIUM=false
RUN if [ "$WITH_CHROMIUM" = "true" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends chromium fonts-dejavu-core \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid 10001 whisperer \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home whisperer \
    && mkdir -p /var/lib/whisperer \
    && chown 10001:10001 /var/lib/whisperer
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    WHISPERER_DATA_DIR=/var/lib/whisperer
WORKDIR /app
COPY --from=builder /app/.venv ./.venv
COPY bot ./bot
COPY agents ./agents
COPY tools ./tools
COPY guardrails ./guardrails
COPY scheduled_checks ./scheduled_checks
COPY sandbox ./sandbox
COPY store ./store
COPY runbooks ./runbooks
USER 10001:10001
EXPOSE 9100
ENTRYPOINT ["whisperer"]
CMD ["run"]
