#!/usr/bin/env bash
# Deploy script for a Node app (staging or production). pollpray runs it in the
# checkout at the exact commit (a branch head for staging, a tag for production) and
# restarts the app's unit afterwards. Idempotent: a failed deploy is retried.
#
# Environment from pollpray: POLLPRAY_TARGET, POLLPRAY_OLD_SHA, POLLPRAY_NEW_SHA,
# POLLPRAY_BRANCH, POLLPRAY_TAG, ... Optional: NPM (default: npm).
set -euo pipefail

NPM="${NPM:-npm}"
echo "deploying ${POLLPRAY_TARGET} ${POLLPRAY_TAG:-${POLLPRAY_BRANCH}} ${POLLPRAY_NEW_SHA:0:12}"

# Reinstall only when the lockfile changed (or nothing is installed yet).
if [ ! -d node_modules ] || [ -z "${POLLPRAY_OLD_SHA}" ] || ! git diff --quiet "${POLLPRAY_OLD_SHA}" "${POLLPRAY_NEW_SHA}" -- package-lock.json 2>/dev/null; then
  "$NPM" ci --omit=dev --no-audit --no-fund
fi
"$NPM" run build --if-present
echo "ready; pollpray restarts the service next"
