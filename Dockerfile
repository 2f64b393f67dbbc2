# syntax=docker/dockerfile:1
# One image for every service (`assist service NAME`) and for the migrations (`assist migrate`), built from
# uv.lock exactly (--frozen). It runs as an unprivileged user and needs no writable root filesystem: the bytecode
# is compiled at build time and the services keep their data in PostgreSQL and NATS, not on local disk.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# The gateway pages' front-end libraries (services/gateway/web/package-lock.json), as `make` installs them.
FROM node:22-bookworm-slim AS web
WORKDIR /web
COPY services/gateway/web/package.json services/gateway/web/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM ${PYTHON_IMAGE} AS build
# The same uv as the Makefile's UV_VERSION (tests/test_deploy_files.py keeps them equal).
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir uv==${UV_VERSION}
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# The lock and the members' metadata first: the dependency layer is rebuilt only when they change.
COPY pyproject.toml uv.lock ./
COPY libs/platform/pyproject.toml libs/platform/
COPY libs/contract/pyproject.toml libs/contract/
COPY services/consent/pyproject.toml services/consent/
COPY services/session/pyproject.toml services/session/
COPY services/billing/pyproject.toml services/billing/
COPY services/gateway/pyproject.toml services/gateway/
COPY agent/pyproject.toml agent/
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --no-install-workspace
COPY libs libs
COPY services services
COPY agent agent
COPY src src
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev
# The gateway serves them from services/gateway/web/node_modules, beside its (editable) sources.
COPY --from=web /web/node_modules services/gateway/web/node_modules

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 assist \
 && useradd --system --uid 10001 --gid assist --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin assist
ENV PATH=/app/.venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 ASSIST_DATA_DIR=/tmp/assist
WORKDIR /app
COPY --from=build --chown=root:root /app /app
# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["assist"]
CMD ["service", "gateway", "--host", "0.0.0.0", "--port", "8000"]
