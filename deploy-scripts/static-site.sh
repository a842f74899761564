#!/usr/bin/env bash
# Builds a static site with its own virtualenv and publishes it to PUBLIC_HTML.
# pollpray runs it in the source checkout at the exact new commit (cloned on the first
# run, reset on a force-push). The site is built into a fresh directory beside
# PUBLIC_HTML and swapped in with two renames, so the web server never serves a
# half-built tree, and a failed build leaves the old site up.
#
# Environment: PUBLIC_HTML (required), VENV (default: ./.venv), PYTHON (default:
# python3), SITE_BUILDER (default: mkdocs; any tool taking `build --site-dir DIR`).
set -euo pipefail

: "${PUBLIC_HTML:?set PUBLIC_HTML in the target env: (the directory the web server serves)}"
VENV="${VENV:-$PWD/.venv}"
PYTHON="${PYTHON:-python3}"
BUILDER="${SITE_BUILDER:-mkdocs}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
if [ -f requirements.txt ] && { [ -z "${POLLPRAY_OLD_SHA}" ] || [ ! -e "$VENV/.installed" ] || ! git diff --quiet "${POLLPRAY_OLD_SHA}" "${POLLPRAY_NEW_SHA}" -- requirements.txt 2>/dev/null; }; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
  touch "$VENV/.installed"
fi

parent="$(dirname "$PUBLIC_HTML")"
mkdir -p "$parent"
next="$(mktemp -d "$parent/.public_html.new.XXXXXX")"
trap 'rm -rf "$next"' EXIT
"$VENV/bin/$BUILDER" build --clean --site-dir "$next"
chmod 755 "$next"

old="$parent/.public_html.old.$$"
if [ -e "$PUBLIC_HTML" ]; then mv "$PUBLIC_HTML" "$old"; fi
mv "$next" "$PUBLIC_HTML"
rm -rf "$old"
echo "published ${POLLPRAY_NEW_SHA:0:12} to $PUBLIC_HTML"
