FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY harmonia ./harmonia
RUN pip install --no-cache-dir .
EXPOSE 4000 8100
CMD ["harmonia", "serve", "--host", "0.0.0.0", "--port", "4000"]
