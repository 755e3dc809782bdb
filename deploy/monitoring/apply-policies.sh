#!/usr/bin/env bash
# Creates or updates opcancel's Cloud Monitoring alert policies, the JSON
# files in policies/ (the monitoring v3 AlertPolicy shape), in PROJECT. A
# policy whose displayName exists is replaced in place, never duplicated:
# running the script again changes nothing. See docs/deploy.md#queue-health.
#
#   PROJECT=my-project \
#   NOTIFICATION_CHANNELS=projects/my-project/notificationChannels/123 \
#   deploy/monitoring/apply-policies.sh
#
# The policies watch the subscriptions deploy/pubsub/provision.sh creates;
# SUBSCRIPTION and DEAD_LETTER_SUBSCRIPTION name others. Each links its
# runbook page, docs/runbooks/<Alert>.md, under RUNBOOKS of
# deploy/base/runbooks.env, where all the alerts' links are set. An update
# replaces the whole policy, notification channels included: give
# NOTIFICATION_CHANNELS (comma-separated) on every run.
set -euo pipefail

PROJECT="${PROJECT:?set PROJECT to the Google Cloud project}"
SUBSCRIPTION="${SUBSCRIPTION:-opcancel-worker}"
DEAD_LETTER_SUBSCRIPTION="${DEAD_LETTER_SUBSCRIPTION:-opcancel-dead-letter}"
NOTIFICATION_CHANNELS="${NOTIFICATION_CHANNELS:-}"

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

for file in "${here}"/policies/*.json; do
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
