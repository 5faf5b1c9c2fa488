#!/usr/bin/env bash
# Copied from the build machine's tool library (../shared/tools/ceph-rgw-down.sh) so a clean clone can run it.
# Stops the single-node Ceph RGW started by ceph-rgw-up.sh DIR (rgw, osd, mon, by their recorded pids)
# and waits until they are gone, so that a new one can start on the same ports.
D=${1:?usage: ceph-rgw-down.sh DIR}
pids=()
for n in rgw osd mon; do [ -f "$D/$n.pid" ] && pids+=("$(cat "$D/$n.pid")"); done
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
for i in $(seq 1 50); do
  alive=0; for p in "${pids[@]}"; do [ -e "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break; sleep 0.2
done
for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
rm -f "$D"/{rgw,osd,mon}.pid
exit 0
