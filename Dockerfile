# The gateway (and, with another command, the simulators) from the locked runtime set.
FROM python:3.11-slim
WORKDIR /app
# The lock first: this layer is rebuilt only when requirements/runtime.txt changes.
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps --only-binary :all: \
        -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY harmonia ./harmonia
# The project alone, built with the locked setuptools: nothing resolved from the index here.
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation .
RUN useradd --system --no-create-home --uid 10001 harmonia
USER harmonia
EXPOSE 4000 8100
# No token key is built in: `harmonia serve` refuses to start until it gets one, e.g.
#   docker run -e HARMONIA_AUTH__JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" \
#              -p 127.0.0.1:4000:4000 harmonia
# (or HARMONIA_AUTH__JWKS_URL with HARMONIA_AUTH__AUDIENCE). A container is reached only through the
# ports it publishes, so inside it the gateway listens on every interface (serve's own default is
# 127.0.0.1, which nothing outside the container could reach): who may connect is decided by `-p`.
CMD ["harmonia", "serve", "--host", "0.0.0.0", "--port", "4000"]
