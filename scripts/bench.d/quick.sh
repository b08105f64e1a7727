#!/usr/bin/env bash
# Quick figures with wrk (HTTP/1.1, bearer token) against a release build and against etcd.
# Usage: scripts/bench.d/quick.sh   (needs wrk and etcd-server from Debian)
set -u
BIN=${BIN:-$(dirname "$0")/../../target/release/rudder}
D=$(mktemp -d); PORT=16700; A='Authorization: Bearer benchtoken'; U=https://127.0.0.1:$PORT
echo 'benchtoken,bench,1,system:masters' > $D/tokens.csv
$BIN server --data-dir $D/data --port $PORT --bind-address 127.0.0.1 --token-file $D/tokens.csv > $D/log 2>&1 &
PID=$!; sleep 1.5
echo "idle_rss_kib $(awk '/VmRSS/{print $2}' /proc/$PID/status)"
for ns in cms pods; do curl -sk -X POST -H "$A" -H 'Content-Type: application/json' -d "{\"metadata\":{\"name\":\"$ns\"}}" $U/api/v1/namespaces >/dev/null; done
echo "--- configmap creates, 64 connections, 10s"
wrk -t2 -c64 -d10s -H "$A" -s $(dirname "$0")/create-configmap.lua $U/api/v1/namespaces/cms/configmaps | grep -E 'Latency|Requests/sec|requests in|Non-2xx'
echo "--- pod creates, 64 connections, 2s"
wrk -t2 -c64 -d2s -H "$A" -s $(dirname "$0")/create-pod.lua $U/api/v1/namespaces/pods/pods | grep -E 'Latency|Requests/sec|requests in|Non-2xx'
echo "pods $(curl -sk -H "$A" $U/api/v1/namespaces/pods/pods | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')"
echo "--- LIST of all pods in the namespace, 10 times (seconds, bytes)"
for i in $(seq 10); do curl -sk -o /dev/null -w '%{time_total} %{size_download}\n' -H "$A" $U/api/v1/namespaces/pods/pods; done
sleep 1
echo "rss_after_kib $(awk '/VmRSS/{print $2}' /proc/$PID/status)"
kill $PID; wait $PID 2>/dev/null
$BIN server --data-dir $D/data --port $PORT --bind-address 127.0.0.1 --token-file $D/tokens.csv > $D/log2 2>&1 &
PID=$!; sleep 3
echo "rss_after_restart_kib $(awk '/VmRSS/{print $2}' /proc/$PID/status)"
kill $PID; wait $PID 2>/dev/null
echo "--- etcd $(etcd --version | head -1): puts through the JSON gateway, 64 connections, 10s"
E=$(mktemp -d)
etcd --data-dir $E --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 --listen-peer-urls http://127.0.0.1:23800 > $E/log 2>&1 &
EPID=$!; sleep 2
wrk -t2 -c64 -d10s -s $(dirname "$0")/etcd-put.lua http://127.0.0.1:23790/v3/kv/put | grep -E 'Latency|Requests/sec|requests in|Non-2xx'
kill $EPID; wait $EPID 2>/dev/null
rm -rf $D $E
