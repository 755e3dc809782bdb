#!/usr/bin/env bash
# Creates or updates opcancel's Cloud Monitoring alert policies and its
# dashboard in PROJECT: the queue-health policies in policies/ (hand-written,
# on Pub/Sub's own metrics; docs/deploy.md#queue-health), with
# WORKER_ALERTS=yes the worker's alerts in alerts/ (PromQL policies
# generated from the PrometheusRule, on Managed Prometheus's series;
# docs/deploy.md#cloud-monitoring-alert-policies), and dashboard.json
# (generated from the Grafana dashboard). A policy or dashboard whose
# displayName exists is replaced in place, never duplicated (a dashboard by
# the etag of the version it replaces): running the script again changes
# nothing.
#
#   PROJECT=my-project \
#   NOTIFICATION_CHANNELS=projects/my-project/notificationChannels/123 \
#   WORKER_ALERTS=yes deploy/monitoring/apply-policies.sh   # the gke overlay
#
# WORKER_ALERTS is no by default: where the worker's alerts already page
# through an Alertmanager (the prod overlay), the same alerts here would
# page twice, and where its metrics are not in Managed Prometheus,
# OpcancelDown's absent(up) would be a CRITICAL that never clears. Only the
# gke path, whose rules reach no Alertmanager, asks for them.
#
# The queue-health policies watch the subscriptions deploy/pubsub/provision.sh
# creates; SUBSCRIPTION and DEAD_LETTER_SUBSCRIPTION name others. Each
# policy links its runbook page, docs/runbooks/<Alert>.md, under RUNBOOKS of
# deploy/base/runbooks.env, where all the alerts' links are set. An update
# replaces the whole policy, notification channels included: give
# NOTIFICATION_CHANNELS (comma-separated) on every run. DASHBOARD=no leaves
# the dashboard alone.
#
# Portable to bash 3.2 and BSD sed (macOS): an array that may be empty is
# expanded as ${a[@]+"${a[@]}"} (bash before 4.4 calls an empty "${a[@]}"
# unbound under set -u), and no sed replacement holds \n.
set -euo pipefail

PROJECT="${PROJECT:?set PROJECT to the Google Cloud project}"
SUBSCRIPTION="${SUBSCRIPTION:-opcancel-worker}"
DEAD_LETTER_SUBSCRIPTION="${DEAD_LETTER_SUBSCRIPTION:-opcancel-dead-letter}"
NOTIFICATION_CHANNELS="${NOTIFICATION_CHANNELS:-}"
DASHBOARD="${DASHBOARD:-yes}"
WORKER_ALERTS="${WORKER_ALERTS:-no}"
for setting in "DASHBOARD=${DASHBOARD}" "WORKER_ALERTS=${WORKER_ALERTS}"; do
  case "${setting#*=}" in
    yes | no) ;;
    *)
      echo "${setting}: want yes or no" >&2
      exit 2
      ;;
  esac
done

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
# display_name FILE: the displayName of a generated or hand-written file.
display_name() { sed -n 's/^  "displayName": "\(.*\)",$/\1/p' "$1"; }
# existing_policy DISPLAY: the name of the project's policy of that displayName.
existing_policy() { printf '%s\n' "${existing}" | awk -v d="$1" '$1 == d { print $2; exit }'; }

files=("${here}"/policies/*.json)
if [ "${WORKER_ALERTS}" = yes ]; then
  files+=("${here}"/alerts/*.json)
else
  # Policies an earlier run with WORKER_ALERTS=yes made are left alone, and
  # named: they page besides the Alertmanager.
  for file in "${here}"/alerts/*.json; do
    display="$(display_name "${file}")"
    name="$(existing_policy "${display}")"
    if [ -n "${name}" ]; then
      echo "WORKER_ALERTS=no leaves ${display} (${name}) as it is; if the worker's alerts page through an Alertmanager: gcloud alpha monitoring policies delete ${name} --project=${PROJECT}" >&2
    fi
  done
fi

for file in ${files[@]+"${files[@]}"}; do
  policy="${tmp}/$(basename "${file}")"
  sed -e "s|docs/runbooks/|$(literal "${runbooks}")/|g" \
    -e "s|subscription_id = \\\\\"opcancel-worker\\\\\"|subscription_id = \\\\\"$(literal "${SUBSCRIPTION}")\\\\\"|g" \
    -e "s|subscription_id = \\\\\"opcancel-dead-letter\\\\\"|subscription_id = \\\\\"$(literal "${DEAD_LETTER_SUBSCRIPTION}")\\\\\"|g" \
    "${file}" >"${policy}"
  display="$(display_name "${file}")"
  name="$(existing_policy "${display}")"
  if [ -n "${name}" ]; then
    echo "updating ${display} (${name})"
    g alpha monitoring policies update "${name}" --policy-from-file="${policy}" ${update_flags[@]+"${update_flags[@]}"}
  else
    echo "creating ${display}"
    g alpha monitoring policies create --policy-from-file="${policy}" ${create_flags[@]+"${create_flags[@]}"}
  fi
done

if [ "${DASHBOARD}" = no ]; then
  exit 0
fi
dashboard="${here}/dashboard.json"
display="$(display_name "${dashboard}")"
# "displayName name etag" per dashboard.
found="$(g monitoring dashboards list --format='value(displayName,name,etag)' | awk -v d="${display}" '$1 == d { print $2, $3; exit }')"
if [ -n "${found}" ]; then
  read -r name etag <<<"${found}"
  echo "updating dashboard ${display} (${name})"
  # An update names the version it replaces by its etag, as the object's
  # first field (the generated file opens with a line "{").
  if [ "$(sed -n 1p "${dashboard}")" != "{" ]; then
    echo "${dashboard}: does not open with a line {" >&2
    exit 1
  fi
  {
    printf '{\n  "etag": "%s",\n' "${etag}"
    sed -e 1d "${dashboard}"
  } >"${tmp}/dashboard.json"
  g monitoring dashboards update "${name}" --config-from-file="${tmp}/dashboard.json"
else
  echo "creating dashboard ${display}"
  g monitoring dashboards create --config-from-file="${dashboard}"
fi
