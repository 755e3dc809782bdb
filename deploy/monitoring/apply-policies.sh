#!/usr/bin/env bash
# Creates or updates opcancel's Cloud Monitoring alert policies and its
# dashboard in PROJECT: the queue-health policies in policies/ (hand-written,
# on Pub/Sub's own metrics; docs/deploy.md#queue-health), the worker's
# alerts in alerts/ (PromQL policies generated from the PrometheusRule;
# docs/deploy.md#cloud-monitoring-alert-policies), and dashboard.json
# (generated from the Grafana dashboard). A policy or dashboard whose
# displayName exists is replaced in place, never duplicated (a dashboard by
# the etag of the version it replaces): running the script again changes
# nothing.
#
#   PROJECT=my-project \
#   NOTIFICATION_CHANNELS=projects/my-project/notificationChannels/123 \
#   deploy/monitoring/apply-policies.sh
#
# The queue-health policies watch the subscriptions deploy/pubsub/provision.sh
# creates; SUBSCRIPTION and DEAD_LETTER_SUBSCRIPTION name others. Each
# policy links its runbook page, docs/runbooks/<Alert>.md, under RUNBOOKS of
# deploy/base/runbooks.env, where all the alerts' links are set. An update
# replaces the whole policy, notification channels included: give
# NOTIFICATION_CHANNELS (comma-separated) on every run. DASHBOARD=no leaves
# the dashboard alone.
set -euo pipefail

PROJECT="${PROJECT:?set PROJECT to the Google Cloud project}"
SUBSCRIPTION="${SUBSCRIPTION:-opcancel-worker}"
DEAD_LETTER_SUBSCRIPTION="${DEAD_LETTER_SUBSCRIPTION:-opcancel-dead-letter}"
NOTIFICATION_CHANNELS="${NOTIFICATION_CHANNELS:-}"
DASHBOARD="${DASHBOARD:-yes}"

here="$(cd "$(dirname "$0")" && pwd)"
runbooks="$(sed -n 's/^RUNBOOKS=//p' "${here}/../base/runbooks.env")"
g() { gcloud --project="${PROJECT}" --quiet "$@"; }

# sed replacement text: & and the | delimiter are literal.
literal() { printf '%s' "$1" | sed -e 's/[&|\\]/\\&/g'; }

create_flags=()
update_flags=()
if [ -n "${NOTIFICATION_CHANNELS}" ]; then
  create_flags=(--notification-channels="${NOTIFICATION_CHANNELS}")
  update_flags=(--set-notification-channels="${NOTIFICATION_CHANNELS}")
fi

tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

# One listing: "displayName name" per policy (display names have no spaces).
existing="$(g alpha monitoring policies list --format='value(displayName,name)')"

for file in "${here}"/policies/*.json "${here}"/alerts/*.json; do
  policy="${tmp}/$(basename "${file}")"
  sed -e "s|docs/runbooks/|$(literal "${runbooks}")/|g" \
    -e "s|subscription_id = \\\\\"opcancel-worker\\\\\"|subscription_id = \\\\\"$(literal "${SUBSCRIPTION}")\\\\\"|g" \
    -e "s|subscription_id = \\\\\"opcancel-dead-letter\\\\\"|subscription_id = \\\\\"$(literal "${DEAD_LETTER_SUBSCRIPTION}")\\\\\"|g" \
    "${file}" >"${policy}"
  display="$(sed -n 's/^  "displayName": "\(.*\)",$/\1/p' "${file}")"
  name="$(printf '%s\n' "${existing}" | awk -v d="${display}" '$1 == d { print $2; exit }')"
  if [ -n "${name}" ]; then
    echo "updating ${display} (${name})"
    g alpha monitoring policies update "${name}" --policy-from-file="${policy}" "${update_flags[@]}"
  else
    echo "creating ${display}"
    g alpha monitoring policies create --policy-from-file="${policy}" "${create_flags[@]}"
  fi
done

if [ "${DASHBOARD}" = no ]; then
  exit 0
fi
dashboard="${here}/dashboard.json"
display="$(sed -n 's/^  "displayName": "\(.*\)",$/\1/p' "${dashboard}")"
# "displayName name etag" per dashboard.
found="$(g monitoring dashboards list --format='value(displayName,name,etag)' | awk -v d="${display}" '$1 == d { print $2, $3; exit }')"
if [ -n "${found}" ]; then
  read -r name etag <<<"${found}"
  echo "updating dashboard ${display} (${name})"
  # An update names the version it replaces by its etag.
  sed -e "1s|^{\$|{\n  \"etag\": \"$(literal "${etag}")\",|" "${dashboard}" >"${tmp}/dashboard.json"
  g monitoring dashboards update "${name}" --config-from-file="${tmp}/dashboard.json"
else
  echo "creating dashboard ${display}"
  g monitoring dashboards create --config-from-file="${dashboard}"
fi
