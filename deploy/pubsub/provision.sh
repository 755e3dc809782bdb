#!/usr/bin/env bash
# Creates opcancel's Pub/Sub resources and IAM bindings with gcloud. Safe to
# run again: what exists is left as it is (the worker subscription's policies
# and the custom role's permissions are updated), and a subscription of the
# right name on the wrong topic, or any error other than "not found", stops
# it. Against the emulator (when CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB is
# set) the IAM steps are skipped, as the emulator has no IAM. Who gets which
# role, and why: docs/operations.md#iam.
#
#   PROJECT=my-project WORKER_SA=opcancel@my-project.iam.gserviceaccount.com \
#   PUBLISHERS="serviceAccount:ops-bot@my-project.iam.gserviceaccount.com" \
#   WAIT_USERS="group:sre@example.com" WAIT_PROJECT=my-project-opcancel-wait \
#   REPLAY_OPERATORS="group:sre-leads@example.com" \
#   deploy/pubsub/provision.sh
set -euo pipefail

PROJECT="${PROJECT:?set PROJECT to the Google Cloud project}"
TOPIC="${TOPIC:-opcancel-requests}"                          # where cancel requests are published
SUBSCRIPTION="${SUBSCRIPTION:-opcancel-worker}"              # what the workers read (--subscription)
# Partitions (docs/deploy.md#partitions): service hosts, separated by
# spaces, each read from a subscription of its own filtered on the service
# attribute, SUBSCRIPTION-HOST, beside one for the rest,
# SUBSCRIPTION-rest-HASH (named after the list: a filter cannot be
# changed). Empty: the one unfiltered SUBSCRIPTION.
PARTITIONS="${PARTITIONS:-}"
RESULTS_TOPIC="${RESULTS_TOPIC:-opcancel-results}"           # result events (--results-topic)
BATCHES_TOPIC="${BATCHES_TOPIC:-opcancel-batches}"           # the manifests of submit's batches (submit and wait --batches-topic)
# How long the results and batches topics keep their messages: how far back
# opcancel wait can follow a batch (it seeks a new subscription back to the
# batch's start). 10m to 31d.
TOPIC_RETENTION="${TOPIC_RETENTION:-7d}"
# A subscription that keeps the result events for a consumer that reads them
# as they come (the topic's retention serves opcancel wait). Set it empty
# when the consumers create their own subscriptions.
RESULTS_SUBSCRIPTION="${RESULTS_SUBSCRIPTION-opcancel-results}"
DEAD_LETTER_TOPIC="${DEAD_LETTER_TOPIC:-opcancel-dead-letter}"
DEAD_LETTER_SUBSCRIPTION="${DEAD_LETTER_SUBSCRIPTION:-opcancel-dead-letter}"
ACK_DEADLINE="${ACK_DEADLINE:-60}"                           # seconds; unary pulls only: the worker's streaming pull leases for --lease-extension
MIN_RETRY_DELAY="${MIN_RETRY_DELAY:-10s}"                    # redelivery backoff after a nack
MAX_RETRY_DELAY="${MAX_RETRY_DELAY:-600s}"
MAX_DELIVERY_ATTEMPTS="${MAX_DELIVERY_ATTEMPTS:-20}"         # then the message goes to the dead-letter topic
RETENTION="${RETENTION:-7d}"
# Who may do what (members as IAM writes them, user:, group:,
# serviceAccount:, separated by spaces); nobody is granted anything when
# empty.
WORKER_SA="${WORKER_SA:-}"                                   # the worker's Google service account
PUBLISHERS="${PUBLISHERS:-}"                                 # members that publish cancel requests (opcancel submit)
WAIT_USERS="${WAIT_USERS:-}"                                 # members that run opcancel submit --wait, --journal and wait (they publish too)
# The project where submit --wait's temporary subscriptions live (its
# --project): one that holds nothing else, never PROJECT, because Pub/Sub's
# permissions to create, read and delete subscriptions cannot be limited to
# some subscriptions of a project. For the same reason the WAIT_USERS of one
# WAIT_PROJECT can consume or delete each other's: run the script once per
# user, each with a project of their own, to keep them apart
# (docs/operations.md#what-wait-users-can-do-to-each-other).
WAIT_PROJECT="${WAIT_PROJECT:-}"
WAIT_ROLE="${WAIT_ROLE:-opcancelWaiter}"                     # the custom role of WAIT_USERS in WAIT_PROJECT
REPLAY_OPERATORS="${REPLAY_OPERATORS:-}"                     # members that run opcancel replay from the dead letters

# Another request topic is another deployment (one per tenant,
# docs/operations.md#one-deployment-per-tenant): it must not share the
# first deployment's results, batches or dead letters, whose readers and
# writers would then be both deployments' (the wait users of either could
# end the other's batches with a forged manifest).
shared=""
if [ "$TOPIC" != "opcancel-requests" ]; then
  if [ "$RESULTS_TOPIC" = "opcancel-results" ]; then shared="$shared RESULTS_TOPIC"; fi
  if [ "$BATCHES_TOPIC" = "opcancel-batches" ]; then shared="$shared BATCHES_TOPIC"; fi
  if [ "$DEAD_LETTER_TOPIC" = "opcancel-dead-letter" ]; then shared="$shared DEAD_LETTER_TOPIC"; fi
fi
if [ -n "$shared" ]; then
  printf 'TOPIC is %s, another deployment than the first (opcancel-requests), but it would share the first deployment'"'"'s%s: set them for this deployment too (docs/operations.md#one-deployment-per-tenant)\n' "$TOPIC" "$shared" >&2
  exit 2
fi

if [ -n "$WAIT_USERS" ] && { [ -z "$WAIT_PROJECT" ] || [ "$WAIT_PROJECT" = "$PROJECT" ]; }; then
  printf 'WAIT_USERS needs WAIT_PROJECT, a project other than %s for their temporary subscriptions: in %s, the right to create, read and delete them would reach the worker subscription %s too\n' "$PROJECT" "$PROJECT" "$SUBSCRIPTION" >&2
  exit 2
fi

# partition_plan checks PARTITIONS before anything is created: it sets
# partition_hosts (sorted, each once) and rest_filter, the filter of the
# rest, which must fit Pub/Sub's 256 bytes.
partition_hosts=()
rest_filter=""
partition_plan() {
  local hosts=() host
  read -r -a hosts <<<"$PARTITIONS"
  for host in ${hosts[@]+"${hosts[@]}"}; do
    if ! [[ "$host" =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$ ]]; then
      printf 'PARTITIONS: %q is not a service host (lower-case letters, digits, dots and dashes)\n' "$host" >&2
      exit 2
    fi
  done
  if [ "${#hosts[@]}" -eq 0 ]; then
    return
  fi
  while IFS= read -r host; do
    partition_hosts+=("$host")
  done < <(printf '%s\n' ${hosts[@]+"${hosts[@]}"} | sort -u)
  for host in ${partition_hosts[@]+"${partition_hosts[@]}"}; do
    rest_filter="${rest_filter:+$rest_filter OR }attributes.service = \"$host\""
  done
  rest_filter="NOT ($rest_filter)"
  if [ "${#rest_filter}" -gt 256 ]; then
    printf 'PARTITIONS: the filter of the rest, %s, is %d bytes, over Pub/Sub'"'"'s 256: partition fewer services (the ones that flood)\n' "$rest_filter" "${#rest_filter}" >&2
    exit 2
  fi
}
partition_plan

emulator="${CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB:-}"
g() { gcloud --project="$PROJECT" --quiet "$@"; }

# describe WHAT CMD... runs a gcloud describe command and prints its value.
# Its status is 1 when the resource does not exist and 2 on any other error
# (permission, network, quota), which is printed: such an error must stop
# the script, never pass for "not found".
# Only stdout is the value: gcloud also writes warnings to stderr when it
# succeeds.
describe() {
  local what="$1" out err errfile
  shift
  errfile="$(mktemp)"
  if out="$("$@" 2>"$errfile")"; then
    rm -f "$errfile"
    printf '%s\n' "$out"
    return 0
  fi
  err="$(cat "$errfile")"
  rm -f "$errfile"
  if [[ "$err" == *NOT_FOUND* ]]; then
    return 1
  fi
  printf 'cannot read %s: %s\n' "$what" "$err" >&2
  return 2
}

# lookup KIND NAME FIELD prints FIELD of the topic or subscription, as
# describe does.
lookup() {
  describe "$1 $2" g pubsub "$1" describe "$2" --format="value($3)"
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

# kept_topic NAME: a topic that keeps its messages for TOPIC_RETENTION,
# created so or set so.
kept_topic() {
  if missing topics "$1"; then
    g pubsub topics create "$1" --message-retention-duration="$TOPIC_RETENTION"
  else
    echo "topic $1 exists; setting its message retention to $TOPIC_RETENTION"
    g pubsub topics update "$1" --message-retention-duration="$TOPIC_RETENTION"
  fi
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
kept_topic "$RESULTS_TOPIC"
kept_topic "$BATCHES_TOPIC"
topic "$DEAD_LETTER_TOPIC"

# partitions creates a subscription filtered on the service attribute for
# each host of PARTITIONS, and one for the rest: messages of every other
# service, and those without the attribute (docs/deploy.md#partitions). It
# sets worker_subscriptions and prints the workers' OPCANCEL_SUBSCRIPTION.
# A subscription on TOPIC of an earlier list (or the unfiltered
# SUBSCRIPTION) still takes its messages: it is named, with what to do.
partitions() {
  local host hash name
  # POSIX cksum: the same on Linux and macOS.
  hash="$(printf '%s\n' ${partition_hosts[@]+"${partition_hosts[@]}"} | cksum | cut -d' ' -f1)"
  worker_subscriptions=()
  for host in ${partition_hosts[@]+"${partition_hosts[@]}"}; do
    worker_subscription "$SUBSCRIPTION-$host" "attributes.service = \"$host\""
    worker_subscriptions+=("$SUBSCRIPTION-$host")
  done
  worker_subscription "$SUBSCRIPTION-rest-$hash" "$rest_filter"
  worker_subscriptions+=("$SUBSCRIPTION-rest-$hash")
  while read -r name; do
    name="${name##*/}"
    if [[ "$name" == "$SUBSCRIPTION" || "$name" == "$SUBSCRIPTION"-* ]] && [[ " ${worker_subscriptions[*]} " != *" $name "* ]]; then
      printf 'subscription %s still receives messages of %s meant for the workers, which now read the partitions: have them read it too until its oldest unacked message is younger than the partitions, then delete it (docs/deploy.md#partitions)\n' "$name" "$TOPIC"
    fi
  done < <(g pubsub topics list-subscriptions "$TOPIC" --format='value(.)')
  echo "the workers read: OPCANCEL_SUBSCRIPTION=$(IFS=,; echo "${worker_subscriptions[*]}")"
}

# worker_subscription NAME [FILTER]: a subscription the workers read, on
# TOPIC, with the retry and dead-letter policies, created with FILTER, or
# the one that exists, whose policies are updated. A filter cannot be
# changed: one that exists with another filter stops the script.
worker_subscription() {
  local filter="${2:-}" with=()
  if [ -n "$filter" ]; then
    with=("--message-filter=$filter")
  fi
  if missing subscriptions "$1" topic; then
    g pubsub subscriptions create "$1" --topic="$TOPIC" \
      --ack-deadline="$ACK_DEADLINE" \
      --min-retry-delay="$MIN_RETRY_DELAY" --max-retry-delay="$MAX_RETRY_DELAY" \
      --dead-letter-topic="$DEAD_LETTER_TOPIC" --max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS" \
      --message-retention-duration="$RETENTION" --expiration-period=never ${with[@]+"${with[@]}"}
    return
  fi
  attached "$1" "$TOPIC"
  missing subscriptions "$1" filter || true
  if [ "$found" != "$filter" ]; then
    printf 'subscription %s exists with the filter %s, not %s, and a filter cannot be changed: delete it once it is drained, or choose another SUBSCRIPTION (docs/deploy.md#partitions)\n' "$1" "${found:-(none)}" "${filter:-(none)}" >&2
    exit 1
  fi
  echo "subscription $1 exists; updating its policies"
  g pubsub subscriptions update "$1" \
    --ack-deadline="$ACK_DEADLINE" \
    --min-retry-delay="$MIN_RETRY_DELAY" --max-retry-delay="$MAX_RETRY_DELAY" \
    --dead-letter-topic="$DEAD_LETTER_TOPIC" --max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS"
}

# The subscriptions the workers read.
worker_subscriptions=("$SUBSCRIPTION")
if [ "${#partition_hosts[@]}" -eq 0 ]; then
  worker_subscription "$SUBSCRIPTION"
else
  partitions
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

# IAM: each party gets what its commands use, on the resources they use it
# on, and nothing in PROJECT as a whole (docs/operations.md#iam).

# grant KIND NAME MEMBER ROLE adds one binding to a topic's or a
# subscription's policy (adding one that exists changes nothing).
grant() {
  g pubsub "$1" add-iam-policy-binding "$2" --member="$3" --role="$4" --format=none
  echo "granted $4 on $1/$2 to $3"
}

# members LIST sets the array "list" to the members in LIST.
members() {
  read -r -a list <<<"$1"
}

# The Pub/Sub service agent forwards undeliverable messages: it must publish
# to the dead-letter topic and subscribe to the source subscription.
grant_service_agent() {
  local number
  number="$(gcloud projects describe "$PROJECT" --format='value(projectNumber)')"
  local agent="serviceAccount:service-${number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  grant topics "$DEAD_LETTER_TOPIC" "$agent" roles/pubsub.publisher
  for sub in ${worker_subscriptions[@]+"${worker_subscriptions[@]}"}; do
    grant subscriptions "$sub" "$agent" roles/pubsub.subscriber
  done
}

# The worker receives and settles requests, reads its subscription's
# dead-letter policy at start, and publishes result events.
grant_worker() {
  if [ -z "$WORKER_SA" ]; then
    echo "WORKER_SA not set: grant the worker roles/pubsub.subscriber and roles/pubsub.viewer on ${worker_subscriptions[*]} and roles/pubsub.publisher on $RESULTS_TOPIC yourself"
    return
  fi
  for sub in ${worker_subscriptions[@]+"${worker_subscriptions[@]}"}; do
    grant subscriptions "$sub" "serviceAccount:$WORKER_SA" roles/pubsub.subscriber
    grant subscriptions "$sub" "serviceAccount:$WORKER_SA" roles/pubsub.viewer
  done
  grant topics "$RESULTS_TOPIC" "serviceAccount:$WORKER_SA" roles/pubsub.publisher
}

# Publishers publish requests to the request topic, and nothing else.
grant_publishers() {
  members "$PUBLISHERS"
  for member in ${list[@]+"${list[@]}"}; do
    grant topics "$TOPIC" "$member" roles/pubsub.publisher
  done
}

# What submit --wait and wait do with their temporary subscriptions in
# WAIT_PROJECT: create them (checked on the project, with
# pubsub.topics.attachSubscription on the results and batches topics),
# receive from them and ack (consume; a seek needs the same), delete them.
WAIT_PERMISSIONS="pubsub.subscriptions.create,pubsub.subscriptions.consume,pubsub.subscriptions.delete"

# gw runs gcloud on WAIT_PROJECT.
gw() { gcloud --project="$WAIT_PROJECT" --quiet "$@"; }

# wait_role creates the custom role WAIT_ROLE in WAIT_PROJECT with
# WAIT_PERMISSIONS, or sets them on the role that exists (undeleting a
# deleted one: a deleted role's ID cannot be taken again for weeks).
wait_role() {
  local deleted status=0
  deleted="$(describe "role $WAIT_ROLE of $WAIT_PROJECT" gw iam roles describe "$WAIT_ROLE" --format='value(deleted)')" || status="$?"
  case "$status" in
    1)
      gw iam roles create "$WAIT_ROLE" --title="opcancel submit --wait" --stage=GA --format=none \
        --description="Create, read and delete the temporary subscriptions of opcancel submit --wait" \
        --permissions="$WAIT_PERMISSIONS"
      echo "role $WAIT_ROLE created in $WAIT_PROJECT"
      return
      ;;
    0) ;;
    *) exit 1 ;;
  esac
  if [ "$deleted" = "True" ]; then
    gw iam roles undelete "$WAIT_ROLE" --format=none
  fi
  gw iam roles update "$WAIT_ROLE" --permissions="$WAIT_PERMISSIONS" --format=none
  echo "role $WAIT_ROLE of $WAIT_PROJECT has $WAIT_PERMISSIONS"
}

# submit --wait users publish requests and their batches' manifests, attach
# their temporary subscriptions to the results and batches topics, and hold
# the custom role in WAIT_PROJECT only: nothing on the worker's
# subscription, no right to publish result events, nothing else of PROJECT.
grant_wait_users() {
  members "$WAIT_USERS"
  if [ "${#list[@]}" -eq 0 ]; then
    return
  fi
  wait_role
  for member in ${list[@]+"${list[@]}"}; do
    grant topics "$TOPIC" "$member" roles/pubsub.publisher
    grant topics "$RESULTS_TOPIC" "$member" roles/pubsub.subscriber
    grant topics "$BATCHES_TOPIC" "$member" roles/pubsub.publisher
    grant topics "$BATCHES_TOPIC" "$member" roles/pubsub.subscriber
    gw projects add-iam-policy-binding "$WAIT_PROJECT" --member="$member" \
      --role="projects/$WAIT_PROJECT/roles/$WAIT_ROLE" --condition=None --format=none
    echo "granted projects/$WAIT_PROJECT/roles/$WAIT_ROLE on project $WAIT_PROJECT to $member"
  done
}

# Replay operators pull and ack the dead letters, read the dead-letter
# subscription (replay checks which topic it is attached to), and publish
# to the request topic.
grant_replay_operators() {
  members "$REPLAY_OPERATORS"
  for member in ${list[@]+"${list[@]}"}; do
    grant subscriptions "$DEAD_LETTER_SUBSCRIPTION" "$member" roles/pubsub.subscriber
    grant subscriptions "$DEAD_LETTER_SUBSCRIPTION" "$member" roles/pubsub.viewer
    grant topics "$TOPIC" "$member" roles/pubsub.publisher
  done
}

grant_service_agent
grant_worker
grant_publishers
grant_wait_users
grant_replay_operators
