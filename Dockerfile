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
EXPOSE 4000 8100
CMD ["harmonia", "serve", "--host", "0.0.0.0", "--port", "4000"]
