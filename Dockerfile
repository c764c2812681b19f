# One image for every Verbund service; the command picks the service:
#   docker run IMAGE serve        broker + IoT agents on the embedded SQLite store (the default)
#   docker run IMAGE broker       the NGSI-LD broker alone (e.g. on MongoDB: VERBUND_STORE_URL=mongodb://...)
#   docker run IMAGE agents       the IoT agents alone (--broker-url)
#   docker run IMAGE catalog      the open-data catalog alone (--broker-url)
#   docker run IMAGE dashboard    the dashboards alone (--broker-url)
# The Helm chart (helm/verbund) runs each as its own Deployment from this image.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a virtual environment holding Verbund and its dependencies --------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/verbund
WORKDIR /src
# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them
# (every dependency ships manylinux wheels: no compiler in the image).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
    && /opt/verbund/bin/pip install -r requirements.txt
COPY README.md ./
COPY verbund ./verbund
COPY broker_adapter ./broker_adapter
COPY smart_data_models ./smart_data_models
COPY agents ./agents
COPY catalog ./catalog
COPY visualisation ./visualisation
RUN /opt/verbund/bin/pip install --no-deps . \
    && /opt/verbund/bin/verbund version \
    && /opt/verbund/bin/pip uninstall --yes --quiet pip setuptools

# --- runtime: the interpreter, the virtual environment and an unprivileged user -----------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
RUN groupadd --system --gid ${UID} verbund \
    && useradd --system --uid ${UID} --gid verbund --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin verbund \
    && install -d -o verbund -g verbund -m 0750 /data
COPY --from=build /opt/verbund /opt/verbund
# Bytecode was compiled at install time; the root filesystem may be read-only (the chart mounts it so).
ENV PATH=/opt/verbund/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VERBUND_DATA_DIR=/data \
    VERBUND_HOST=0.0.0.0
WORKDIR /data
VOLUME ["/data"]
USER ${UID}:${UID}
EXPOSE 1026 4041 7896
ENTRYPOINT ["verbund"]
CMD ["serve"]
