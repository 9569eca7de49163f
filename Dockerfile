FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /shifu ./cmd/shifu

FROM debian:bookworm-slim
# tesseract: OCR of scanned pages and photos (SHIFU_OCR=auto finds it).
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
      tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim tesseract-ocr-osd && rm -rf /var/lib/apt/lists/*
COPY --from=build /shifu /usr/local/bin/shifu
USER 65534
ENTRYPOINT []
