#!/usr/bin/env bash
# Creates opcancel's Pub/Sub resources and IAM bindings with gcloud. Safe to
# run again: what exists is left as it is (the worker subscription's policies
# are updated), and a subscription of the right name on the wrong topic, or
# any error other than "not found", stops it. Against the emulator (when
# CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB is set) the IAM steps are skipped, as
# the emulator has no IAM.
#
#   PROJECT=my-project WORKER_SA=opcancel@my-project.iam.gserviceaccount.com \
#   PUBLISHERS="serviceAccount:ops-bot@my-project.iam.gserviceaccount.com group:sre@example.com" \
#   deploy/pubsub/provision.sh
set -euo pipefail

PROJECT="${PROJECT:?set PROJECT to the Google Cloud project}"
TOPIC="${TOPIC:-opcancel-requests}"                          # where cancel requests are published
SUBSCRIPTION="${SUBSCRIPTION:-opcancel-worker}"              # what the workers read (--subscription)
RESULTS_TOPIC="${RESULTS_TOPIC:-opcancel-results}"           # result events (--results-topic)
# Pub/Sub keeps no message of a topic without subscriptions: without this one,
# result events are dropped until a consumer subscribes. Set it empty when the
# consumers create their own subscriptions.
RESULTS_SUBSCRIPTION="${RESULTS_SUBSCRIPTION-opcancel-results}"
DEAD_LETTER_TOPIC="${DEAD_LETTER_TOPIC:-opcancel-dead-letter}"
DEAD_LETTER_SUBSCRIPTION="${DEAD_LETTER_SUBSCRIPTION:-opcancel-dead-letter}"
ACK_DEADLINE="${ACK_DEADLINE:-60}"                           # seconds; unary pulls only: the worker's streaming pull leases for --lease-extension
MIN_RETRY_DELAY="${MIN_RETRY_DELAY:-10s}"                    # redelivery backoff after a nack
MAX_RETRY_DELAY="${MAX_RETRY_DELAY:-600s}"
MAX_DELIVERY_ATTEMPTS="${MAX_DELIVERY_ATTEMPTS:-20}"         # then the message goes to the dead-letter topic
RETENTION="${RETENTION:-7d}"
WORKER_SA="${WORKER_SA:-}"                                   # the worker's Google service account
PUBLISHERS="${PUBLISHERS:-}"                                 # members allowed to publish cancel requests

emulator="${CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB:-}"
g() { gcloud --project="$PROJECT" --quiet "$@"; }

# lookup KIND NAME FIELD prints FIELD of the topic or subscription. Its
# status is 1 when the resource does not exist and 2 on any other error
# (permission, network, quota), which is printed: such an error must stop
# the script, never pass for "not found".
# Only stdout is the value: gcloud also writes warnings to stderr when it
# succeeds.
lookup() {
  local out err errfile
  errfile="$(mktemp)"
  if out="$(g pubsub "$1" describe "$2" --format="value($3)" 2>"$errfile")"; then
    rm -f "$errfile"
    printf '%s\n' "$out"
    return 0
  fi
  err="$(cat "$errfile")"
  rm -f "$errfile"
  if [[ "$err" == *NOT_FOUND* ]]; then
    return 1
  fi
  printf 'cannot read %s %s: %s\n' "$1" "$2" "$err" >&2
  return 2
}

# missing KIND NAME [FIELD]: status 0 when the resource does not exist, 1
# when it does (its FIELD is then in $found); the script stops on any other
# error.
found=""
missing() {
  local status=0
  found="$(lookup "$1" "$2" "${3:-name}")" || status="$?"
  case "$status" in
    0) return 1 ;;
    1) return 0 ;;
    *) exit 1 ;;
  esac
}

topic() {
  if missing topics "$1"; then g pubsub topics create "$1"; else echo "topic $1 exists"; fi
}

# attached NAME TOPIC: the existing subscription NAME ($found holds its
# topic) must be attached to TOPIC; another topic's subscription of the same
# name is never changed.
attached() {
  local want="projects/$PROJECT/topics/$2"
  if [ "$found" != "$want" ]; then
    printf 'subscription %s exists but is attached to %s, not %s: delete it or choose another name\n' "$1" "$found" "$want" >&2
    exit 1
  fi
}

topic "$TOPIC"
topic "$RESULTS_TOPIC"
topic "$DEAD_LETTER_TOPIC"

if missing subscriptions "$SUBSCRIPTION" topic; then
  g pubsub subscriptions create "$SUBSCRIPTION" --topic="$TOPIC" \
    --ack-deadline="$ACK_DEADLINE" \
    --min-retry-delay="$MIN_RETRY_DELAY" --max-retry-delay="$MAX_RETRY_DELAY" \
    --dead-letter-topic="$DEAD_LETTER_TOPIC" --max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS" \
    --message-retention-duration="$RETENTION" --expiration-period=never
else
  attached "$SUBSCRIPTION" "$TOPIC"
  echo "subscription $SUBSCRIPTION exists; updating its policies"
  g pubsub subscriptions update "$SUBSCRIPTION" \
    --ack-deadline="$ACK_DEADLINE" \
    --min-retry-delay="$MIN_RETRY_DELAY" --max-retry-delay="$MAX_RETRY_DELAY" \
    --dead-letter-topic="$DEAD_LETTER_TOPIC" --max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS"
fi

if missing subscriptions "$DEAD_LETTER_SUBSCRIPTION" topic; then
  # Dead letters are kept for inspection and for opcancel replay.
  g pubsub subscriptions create "$DEAD_LETTER_SUBSCRIPTION" --topic="$DEAD_LETTER_TOPIC" \
    --ack-deadline=60 --message-retention-duration="$RETENTION" --expiration-period=never
else
  attached "$DEAD_LETTER_SUBSCRIPTION" "$DEAD_LETTER_TOPIC"
  echo "subscription $DEAD_LETTER_SUBSCRIPTION exists"
fi

if [ -z "$RESULTS_SUBSCRIPTION" ]; then
  echo "RESULTS_SUBSCRIPTION is empty: no subscription on $RESULTS_TOPIC; result events are dropped until one exists"
elif missing subscriptions "$RESULTS_SUBSCRIPTION" topic; then
  g pubsub subscriptions create "$RESULTS_SUBSCRIPTION" --topic="$RESULTS_TOPIC" \
    --message-retention-duration="$RETENTION" --expiration-period=never
else
  attached "$RESULTS_SUBSCRIPTION" "$RESULTS_TOPIC"
  echo "subscription $RESULTS_SUBSCRIPTION exists"
fi

if [ -n "$emulator" ]; then
  echo "emulator at $emulator: skipping IAM"
  exit 0
fi

# The Pub/Sub service agent forwards undeliverable messages: it must publish
# to the dead-letter topic and subscribe to the source subscription.
number="$(gcloud projects describe "$PROJECT" --format='value(projectNumber)')"
agent="serviceAccount:service-${number}@gcp-sa-pubsub.iam.gserviceaccount.com"
g pubsub topics add-iam-policy-binding "$DEAD_LETTER_TOPIC" --member="$agent" --role=roles/pubsub.publisher
g pubsub subscriptions add-iam-policy-binding "$SUBSCRIPTION" --member="$agent" --role=roles/pubsub.subscriber

if [ -n "$WORKER_SA" ]; then
  g pubsub subscriptions add-iam-policy-binding "$SUBSCRIPTION" --member="serviceAccount:$WORKER_SA" --role=roles/pubsub.subscriber
  g pubsub topics add-iam-policy-binding "$RESULTS_TOPIC" --member="serviceAccount:$WORKER_SA" --role=roles/pubsub.publisher
else
  echo "WORKER_SA not set: grant the worker roles/pubsub.subscriber on $SUBSCRIPTION and roles/pubsub.publisher on $RESULTS_TOPIC yourself"
fi
read -r -a publishers <<<"$PUBLISHERS"
for member in "${publishers[@]}"; do
  g pubsub topics add-iam-policy-binding "$TOPIC" --member="$member" --role=roles/pubsub.publisher
done
