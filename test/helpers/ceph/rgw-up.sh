#!/usr/bin/env bash
# Adapted from the build machine's tool library (../shared/tools/ceph-rgw-up.sh) so a clean clone can run it:
# bounded waits that name the failing step, and a restarted OSD when its first start loses a race.
# Single-node Ceph (mon + memstore OSD + radosgw) on 127.0.0.1, no mgr, no cephx. Needs: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd
set -euo pipefail
D=${1:?usage: ceph-rgw-up.sh DIR [PORT [MON_PORT]]}; PORT=${2:-7480}; MON_PORT=${3:-6789}
case "$D" in /|/usr*|/etc*|/var|/home|"${HOME:-/root}") echo "refusing to wipe $D" >&2; exit 2;; esac
# Stop it again with ceph-rgw-down.sh DIR. DIR is wiped and re-created. Several instances can run side by side
# with distinct PORT and MON_PORT (each uses up to ~1.5 GB of memory).
rm -rf "$D"; mkdir -p "$D"/{run,log,mon.a,osd.0,rgw}
FSID=$(uuidgen)
cat > "$D/ceph.conf" <<EOF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd objectstore = memstore
memstore device bytes = 2147483648
osd crush chooseleaf type = 0
run dir = $D/run
log file = $D/log/\$name.log
admin socket = $D/run/\$name.asok
keyring = $D/keyring
[mon.a]
mon data = $D/mon.a
[osd.0]
osd data = $D/osd.0
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $D/rgw
EOF
C="-c $D/ceph.conf"
# Every wait is bounded; a timeout names the step and shows the daemons' last log lines.
fail() {
  echo "ceph-rgw-up: $1" >&2
  for f in "$D"/log/*.out "$D"/log/osd.*.log; do [ -s "$f" ] && { echo "--- tail $f" >&2; tail -n 15 "$f" >&2; }; done
  exit 1
}
wait_for() { # SECONDS CMD...: true once CMD succeeds, false after SECONDS
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $end ] && return 1; sleep 0.2; done
}
osd_up() { ceph $C --connect-timeout 2 osd stat 2>/dev/null | grep -q "1 up"; }
osd_up_or_stuck() { osd_up || grep -q "wrong fsid" "$D/log/osd.out"; }
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --addv a [v1:127.0.0.1:$MON_PORT] --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon $C --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
nohup ceph-mon $C -i a -f > "$D/log/mon.out" 2>&1 & echo $! > "$D/mon.pid"
wait_for 60 ceph $C --connect-timeout 2 mon stat || fail "the monitor did not answer within 60 s"
U=$(uuidgen); ID=$(ceph $C osd new "$U")
ceph-osd $C -i "$ID" --mkfs --osd-uuid "$U" >/dev/null 2>&1
# An OSD started right after its monitor sometimes sends its first command before it has the cluster's
# fsid ("wrong fsid" in osd.out) and never comes up; it is started again then (seen about every other run).
for attempt in 1 2 3 4; do
  nohup ceph-osd $C -i "$ID" -f > "$D/log/osd.out" 2>&1 & echo $! > "$D/osd.pid"
  wait_for 20 osd_up_or_stuck && osd_up && break
  kill -9 "$(cat "$D/osd.pid")" 2>/dev/null || true
  wait "$(cat "$D/osd.pid")" 2>/dev/null || true
  [ $attempt = 4 ] && fail "the OSD did not come up after 4 starts"
  echo "ceph-rgw-up: the OSD did not come up; starting it again" >&2
done
nohup radosgw $C -n client.rgw.a -f > "$D/log/rgw.out" 2>&1 & echo $! > "$D/rgw.pid"
wait_for 60 curl -s -o /dev/null "http://127.0.0.1:$PORT/" || fail "radosgw did not answer on port $PORT within 60 s"
# s3-tests default users (keys from s3tests.conf.SAMPLE)
radosgw-admin $C user create --uid=testid --display-name="M. Tester" --email=tester@ceph.com --access-key=0555b35654ad1656d804 --secret='h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q==' >/dev/null
radosgw-admin $C user create --uid=56789abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234 --display-name=john.doe --email=john.doe@example.com --access-key=NOPQRSTUVWXYZABCDEFG --secret=nopqrstuvwxyzabcdefghijklmnabcdefghijklm >/dev/null
radosgw-admin $C user create --tenant=testx --uid=9876543210abcdef0123456789abcdef0123456789abcdef0123456789abcdef --display-name='testx$tenanteduser' --email=tenanteduser@example.com --access-key=HIJKLMNOPQRSTUVWXYZA --secret=opqrstuvwxyzabcdefghijklmnopqrstuvwxyzab >/dev/null
echo "rgw ready on 127.0.0.1:$PORT (pids: mon $(cat $D/mon.pid) osd $(cat $D/osd.pid) rgw $(cat $D/rgw.pid))"
