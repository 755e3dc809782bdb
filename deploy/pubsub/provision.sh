#!/usr/bin/env bash
# Creates opcancel's Pub/Sub resources and IAM bindings with gcloud. Safe to
# run again: what exists is left as it is. Against the emulator (when
# CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB is set) the IAM steps are skipped, as
# the emulator has no IAM.
#
#   PROJECT=my-project WORKER_SA=opcancel@my-project.iam.gserviceaccount.com \
#   PUBLISHERS="serviceAccount:ops-bot@my-project.iam.gserviceaccount.com group:sre@example.com" \
#   deploy/pubsub/provision.sh
set -euo pipefail

PROJECT=${PROJECT:?set PROJECT to the Google Cloud project}
TOPIC=${TOPIC:-opcancel-requests}                          # where cancel requests are published
SUBSCRIPTION=${SUBSCRIPTION:-opcancel-worker}              # what the workers read (--subscription)
RESULTS_TOPIC=${RESULTS_TOPIC:-opcancel-results}           # result events (--results-topic)
DEAD_LETTER_TOPIC=${DEAD_LETTER_TOPIC:-opcancel-dead-letter}
DEAD_LETTER_SUBSCRIPTION=${DEAD_LETTER_SUBSCRIPTION:-opcancel-dead-letter}
ACK_DEADLINE=${ACK_DEADLINE:-60}                           # seconds; the worker extends leases itself
MIN_RETRY_DELAY=${MIN_RETRY_DELAY:-10s}                    # redelivery backoff after a nack
MAX_RETRY_DELAY=${MAX_RETRY_DELAY:-600s}
MAX_DELIVERY_ATTEMPTS=${MAX_DELIVERY_ATTEMPTS:-20}         # then the message goes to the dead-letter topic
RETENTION=${RETENTION:-7d}
WORKER_SA=${WORKER_SA:-}                                   # the worker's Google service account
PUBLISHERS=${PUBLISHERS:-}                                 # members allowed to publish cancel requests

emulator=${CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB:-}
g() { gcloud --project="$PROJECT" --quiet "$@"; }
exists() { g pubsub "$1" describe "$2" --format='value(name)' >/dev/null 2>&1; }

topic() {
  if exists topics "$1"; then echo "topic $1 exists"; else g pubsub topics create "$1"; fi
}

topic "$TOPIC"
topic "$RESULTS_TOPIC"
topic "$DEAD_LETTER_TOPIC"

if exists subscriptions "$DEAD_LETTER_SUBSCRIPTION"; then
  echo "subscription $DEAD_LETTER_SUBSCRIPTION exists"
else
  # Dead letters are kept for inspection and for opcancel replay.
  g pubsub subscriptions create "$DEAD_LETTER_SUBSCRIPTION" --topic="$DEAD_LETTER_TOPIC" \
    --ack-deadline=60 --message-retention-duration="$RETENTION" --expiration-period=never
fi

if exists subscriptions "$SUBSCRIPTION"; then
  echo "subscription $SUBSCRIPTION exists; updating its policies"
  g pubsub subscriptions update "$SUBSCRIPTION" \
    --ack-deadline="$ACK_DEADLINE" \
    --min-retry-delay="$MIN_RETRY_DELAY" --max-retry-delay="$MAX_RETRY_DELAY" \
    --dead-letter-topic="$DEAD_LETTER_TOPIC" --max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS"
else
  g pubsub subscriptions create "$SUBSCRIPTION" --topic="$TOPIC" \
    --ack-deadline="$ACK_DEADLINE" \
    --min-retry-delay="$MIN_RETRY_DELAY" --max-retry-delay="$MAX_RETRY_DELAY" \
    --dead-letter-topic="$DEAD_LETTER_TOPIC" --max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS" \
    --message-retention-duration="$RETENTION" --expiration-period=never
fi

if [ -n "$emulator" ]; then
  echo "emulator at $emulator: skipping IAM"
  exit 0
fi

# The Pub/Sub service agent forwards undeliverable messages: it must publish
# to the dead-letter topic and subscribe to the source subscription.
number=$(gcloud projects describe "$PROJECT" --format='value(projectNumber)')
agent="serviceAccount:service-${number}@gcp-sa-pubsub.iam.gserviceaccount.com"
g pubsub topics add-iam-policy-binding "$DEAD_LETTER_TOPIC" --member="$agent" --role=roles/pubsub.publisher
g pubsub subscriptions add-iam-policy-binding "$SUBSCRIPTION" --member="$agent" --role=roles/pubsub.subscriber

if [ -n "$WORKER_SA" ]; then
  g pubsub subscriptions add-iam-policy-binding "$SUBSCRIPTION" --member="serviceAccount:$WORKER_SA" --role=roles/pubsub.subscriber
  g pubsub topics add-iam-policy-binding "$RESULTS_TOPIC" --member="serviceAccount:$WORKER_SA" --role=roles/pubsub.publisher
else
  echo "WORKER_SA not set: grant the worker roles/pubsub.subscriber on $SUBSCRIPTION and roles/pubsub.publisher on $RESULTS_TOPIC yourself"
fi
for member in $PUBLISHERS; do
  g pubsub topics add-iam-policy-binding "$TOPIC" --member="$member" --role=roles/pubsub.publisher
done
