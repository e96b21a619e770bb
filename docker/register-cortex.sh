#!/usr/bin/env bash
# Registers a Cortex server in a running TheHive 5 as `cortex0`, the way StrangeBee's
# testing/scripts/test_init_thehive.sh does (PUT /api/v1/admin/config/cortex as the platform
# admin, `X-Organisation: admin`, answer 204), then checks that TheHive lists its analyzers
# under that name. For docker/compose.yml; `hivecheck stack up` does the same by itself.
#
#   CORTEX_KEY_FILE=cortex.key docker/register-cortex.sh
#
# Settings (environment): CORTEX_KEY_FILE (a file holding the key of the Cortex user TheHive
# acts as; CORTEX_KEY also works but then sits in the environment), THEHIVE_URL (default
# http://127.0.0.1:9000), CORTEX_URL_FOR_THEHIVE (Cortex as TheHive reaches it, default
# http://cortex:9001), THEHIVE_ADMIN_USER / THEHIVE_ADMIN_PASSWORD (default TheHive's
# admin@thehive.local / secret). No secret goes on a command line: curl reads the body and the
# credentials from files only it can see.
set -euo pipefail

thehive="${THEHIVE_URL:-http://127.0.0.1:9000}"
cortex="${CORTEX_URL_FOR_THEHIVE:-http://cortex:9001}"
admin="${THEHIVE_ADMIN_USER:-admin@thehive.local}"
password="${THEHIVE_ADMIN_PASSWORD:-secret}"
if [ -n "${CORTEX_KEY_FILE:-}" ]; then
  key="$(tr -d '[:space:]' < "$CORTEX_KEY_FILE")"
else
  key="${CORTEX_KEY:?set CORTEX_KEY_FILE (or CORTEX_KEY) to the API key of the Cortex user}"
fi
case "$key" in
  *[!A-Za-z0-9+/=_-]*) echo "error: the Cortex key holds unexpected characters" >&2; exit 2 ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"
printf 'user = "%s:%s"\n' "$admin" "$password" > "$work/auth"
cat > "$work/body.json" <<EOF
{"statusCheckInterval": "1 minute", "refreshDelay": "5 seconds", "maxRetryOnError": 3,
 "jobTimeout": "3 hours",
 "servers": [{"name": "cortex0", "url": "$cortex",
              "includedTheHiveOrganisations": ["*"], "excludedTheHiveOrganisations": [],
              "auth": {"type": "bearer", "key": "$key"}}]}
EOF

status="$(curl -s -o "$work/answer" -w '%{http_code}' -K "$work/auth" -X PUT \
  -H 'Content-Type: application/json' -H 'X-Organisation: admin' \
  --data-binary "@$work/body.json" "$thehive/api/v1/admin/config/cortex")"
if [ "$status" != 204 ] && [ "$status" != 200 ]; then
  echo "error: TheHive answered $status to the Cortex registration:" >&2
  cat "$work/answer" >&2
  exit 1
fi

# TheHive lists each analyzer with the servers that have it; `cortex0` must be among them.
for _ in $(seq 30); do
  if curl -sf -K "$work/auth" -H 'X-Organisation: admin' \
      "$thehive/api/v1/connector/cortex/analyzer?range=all" | grep -q '"cortex0"'; then
    echo "Cortex registered in TheHive as cortex0 ($cortex)"
    exit 0
  fi
  sleep 2
done
echo "error: TheHive does not list any analyzer of cortex0 after 60s" >&2
echo "(check the key, that Cortex has analyzers enabled, and TheHive's log)" >&2
exit 1
