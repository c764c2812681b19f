#!/bin/sh
# Brings the bundled replica set to the state the chart describes: initiated once, every member of the
# StatefulSet in its configuration, the application user present with the chart's password.
# Runs as a Helm hook after every install and upgrade; each step is idempotent.
set -eu

mongosh --nodb --quiet --eval 'disableTelemetry()' >/dev/null 2>&1 || true

for member in $(echo "$MEMBERS" | tr ',' ' '); do
    # ping needs no credentials
    until mongosh --quiet --host "$member" --eval 'db.adminCommand({ping: 1}).ok' >/dev/null 2>&1; do
        echo "waiting for $member"
        sleep 3
    done
done

first="${MEMBERS%%,*}"
mongosh --quiet --host "$first" --authenticationDatabase admin \
    --username "$ROOT_USERNAME" --password "$ROOT_PASSWORD" --file /scripts/initiate.js

# The replica set connection finds the primary; an election after initiate takes a few seconds.
until mongosh --quiet "mongodb://$MEMBERS/admin?replicaSet=$REPLICA_SET" --authenticationDatabase admin \
    --username "$ROOT_USERNAME" --password "$ROOT_PASSWORD" --file /scripts/reconcile.js; do
    echo "no primary yet; trying again"
    sleep 5
done
