FROM python:3.11-slim-bookworm
# WeasyPrint needs Pango (with HarfBuzz and fontconfig) and fonts; Noto Color Emoji because
# buyers and sellers write emoji and transcripts must show them; Noto core and CJK so every
# script prints with real glyphs; poppler-utils for pdfsig. Tesseract's English model for
# attachment OCR (tesserocr's wheel carries the library); libGL and GLib for OpenCV (handwriting
# fallback, rapidocr-onnxruntime).
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fontconfig fonts-dejavu-core fonts-noto-color-emoji \
        fonts-noto-core fonts-noto-cjk poppler-utils \
        tesseract-ocr tesseract-ocr-eng libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
# Editable on purpose: templates/, alembic/ and alembic.ini are found beside the packages in /app.
RUN pip install --no-cache-dir -e .
ENV PEERGUARD_DATA_DIR=/data \
    PYTHONUNBUFFERED=1
# 8000: `peerguard web` (HTTP API and staff console); 9191: the worker's Prometheus metrics.
EXPOSE 8000 9191
CMD ["peerguard", "--help"]
