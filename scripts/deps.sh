#!/usr/bin/env bash
# Installs what Shifu needs on a fresh Debian 12 machine: PostgreSQL 15 with its
# server headers, pgvector (built from Debian trixie's source package, since bookworm
# does not package it), poppler's pdftotext, and, with --test, chromium and a CJK font
# for the browser tests. Safe to run again: each step checks before it acts.
set -euo pipefail
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

PGBIN=/usr/lib/postgresql/15/bin
need=()
[ -x "$PGBIN/postgres" ] || need+=(postgresql-15)
[ -x "$PGBIN/pg_config" ] && [ -d /usr/include/postgresql/15/server ] || need+=(postgresql-server-dev-15)
command -v make >/dev/null || need+=(make)
command -v gcc >/dev/null || need+=(gcc)
# pdftotext extracts PDF text ~10x faster than PDFium in WebAssembly (which
# Shifu falls back to without it).
command -v pdftotext >/dev/null || need+=(poppler-utils)
# OCR of scanned pages and photos: Tesseract 5 with English, Simplified
# Chinese and orientation detection (OSD). The tests build their scans with
# pdftoppm (poppler-utils), img2pdf and ImageMagick.
command -v tesseract >/dev/null || need+=(tesseract-ocr)
for pack in eng chi_sim osd; do
  [ -e "/usr/share/tesseract-ocr/5/tessdata/$pack.traineddata" ] || need+=("tesseract-ocr-${pack//_/-}")
done
if [ "$want_test" = 1 ]; then
  command -v img2pdf >/dev/null || need+=(img2pdf)
  command -v convert >/dev/null || need+=(imagemagick)
  command -v chromium >/dev/null || need+=(chromium)
  # A CJK font, so the browser tests' screenshots of the Chinese UI are legible.
  [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
fi
apt_updated=0
apt_update() { [ "$apt_updated" = 1 ] || { apt-get update -qq; apt_updated=1; }; }
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

sharedir=$("$PGBIN/pg_config" --sharedir)
if [ ! -f "$sharedir/extension/vector.control" ]; then
  echo "deps: building pgvector from Debian trixie's source package"
  # The mirror the machine already uses, so no other host is contacted.
  uri=$(grep -rhoE '^(URIs:|deb) +[a-z]+://[^ ]+debian/?' /etc/apt/sources.list.d/ /etc/apt/sources.list 2>/dev/null \
        | grep -v security | head -n1 | awk '{print $2}' || true)
  uri=${uri:-http://deb.debian.org/debian}
  work=$(mktemp -d)
  mkdir -p "$work/lists/partial"
  echo "deb-src [trusted=yes] $uri trixie main" > "$work/sources.list"
  opts=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o Dir::State::Lists="$work/lists" -o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" update -qq
  (cd "$work" && apt-get "${opts[@]}" source --download-only pgvector >/dev/null)
  tar -C "$work" -xf "$work"/pgvector_*.orig.tar.*
  src=$(find "$work" -maxdepth 1 -type d -name 'pgvector-*' | head -n1)
  make -s -C "$src" PG_CONFIG="$PGBIN/pg_config" OPTFLAGS="" >/dev/null
  make -s -C "$src" PG_CONFIG="$PGBIN/pg_config" install >/dev/null
  rm -rf "$work"
fi
echo "deps: ok"
