#!/usr/bin/env bash
# Deploy script for a Django app served by gunicorn. pollpray runs it with the new
# code as the working directory, after the checkout is at the exact new commit, and
# restarts the gunicorn unit afterwards (restart: in the config), so this script only
# prepares the code. It must be idempotent: a failed deploy is retried.
#
# Environment from pollpray: POLLPRAY_TARGET, POLLPRAY_OLD_SHA, POLLPRAY_NEW_SHA,
# POLLPRAY_BRANCH, POLLPRAY_RELEASE_DIR, POLLPRAY_REPO_DIR, POLLPRAY_DRY_RUN.
# Optional: VENV (default: ./.venv), DJANGO_SETTINGS_MODULE, PYTHON (default: python3).
set -euo pipefail

VENV="${VENV:-$PWD/.venv}"
PYTHON="${PYTHON:-python3}"
echo "deploying ${POLLPRAY_TARGET} ${POLLPRAY_OLD_SHA:0:12} -> ${POLLPRAY_NEW_SHA:0:12}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi

# Only reinstall when requirements changed: most deploys are code-only.
if [ -z "${POLLPRAY_OLD_SHA}" ] || ! git diff --quiet "${POLLPRAY_OLD_SHA}" "${POLLPRAY_NEW_SHA}" -- requirements.txt 2>/dev/null; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
fi

"$VENV/bin/python" manage.py migrate --noinput
"$VENV/bin/python" manage.py collectstatic --noinput --clear >/dev/null
"$VENV/bin/python" manage.py check --deploy --fail-level ERROR
echo "ready; pollpray restarts the service next"
