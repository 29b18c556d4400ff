# syntax=docker/dockerfile:1
# The Switchboard image: `docker build -t switchboard .` at the repository's root.
#
# Two stages: the first installs the package with its runtime dependencies only (pyproject's
# [project.dependencies]: no dev or tracing extras) into a virtualenv; the second is the same
# slim Python with that virtualenv and nothing else (no sources, pip, cache or compiler).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/switchboard
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src/ src/
# `.`, not `.[dev]`: every runtime dependency ships a manylinux wheel, so no compiler either.
# pip and setuptools are for installing, not serving: the runtime stage does without them.
RUN /opt/switchboard/bin/pip install . \
    && /opt/switchboard/bin/pip uninstall --yes pip setuptools

FROM ${PYTHON_IMAGE} AS runtime
# A fixed numeric id: Kubernetes' runAsNonRoot can check only a numeric USER.
RUN groupadd --system --gid 10001 switchboard \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin switchboard
COPY --from=build /opt/switchboard /opt/switchboard
# The bytecode was compiled at install; a read-only root file system cannot take more.
ENV PATH=/opt/switchboard/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001

# 8080 WebSocket (and /health, /ready for a balancer), 8081 the HAProxy agent check
# (agent_port, off unless set), 9090 the admin port (/health, /ready, /metrics, /api/v1).
EXPOSE 8080 8081 9090

# SIGTERM starts the drain: drain_grace seconds still accepting, then 1012 closes over at
# most half of drain_timeout, exit 0. An image cannot set how long its runtime waits before
# SIGKILL: give it drain_grace + drain_timeout + 10 s (`docker stop -t`, compose's
# stop_grace_period, Kubernetes' terminationGracePeriodSeconds). Docker's 10 s default
# kills a node mid-drain with the default drain_timeout (10 s) alone.
STOPSIGNAL SIGTERM

# The admin port's /health: plain HTTP even when the WebSocket port has TLS. It is answered by
# the event loop, so a blocked loop turns the container unhealthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9090/health', timeout=2)"]

ENTRYPOINT ["switchboard"]
# `docker run` alone: the admin port on every interface, so a published 9090 reaches it.
# Compose and Kubernetes replace this with `serve --config FILE`.
CMD ["serve", "--admin-host", "0.0.0.0"]
