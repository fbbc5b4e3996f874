#!/bin/sh
# dataset.sh: a labelled dataset made by real tools in network namespaces
# (make dataset). A victim namespace serves HTTP (python3 -m http.server)
# and SSH-like TCP on two links: a benign client (198.18.1.2) browses it
# with curl and wget and pings it; an attacker (198.18.2.2) scans it with
# nmap and floods it with hping3. Each phase is one capture, taken with
# tcpdump in the victim namespace; labels.txt labels the attacker's flows
# by capture (xdpids model features/train --labels). Test addresses only
# (198.18.0.0/15), bounded in time (each tool under timeout; a few minutes
# in all), everything removed at exit. Needs root; tools not installed
# are skipped with a note.
set -eu
OUT=${DATASET_DIR:-dataset}
PFX=xdsd$$
VIC=${PFX}v BEN=${PFX}b ATT=${PFX}a
mkdir -p "$OUT"
cleanup() {
	for ns in $VIC $BEN $ATT; do
		ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del $ns 2>/dev/null || true
	done
}
trap cleanup EXIT INT TERM
for ns in $VIC $BEN $ATT; do ip netns add $ns; ip -n $ns link set lo up; done
link() { # link NS SUBNET: a veth from NS (.2) to the victim (.1)
	ip link add ${1}x type veth peer name ${1}y
	ip link set ${1}x netns $VIC
	ip link set ${1}y netns $1
	ip -n $VIC addr add 198.18.$2.1/24 dev ${1}x
	ip -n $1 addr add 198.18.$2.2/24 dev ${1}y
	ip -n $VIC link set ${1}x up
	ip -n $1 link set ${1}y up
	ip -n $1 route add default via 198.18.$2.1
}
link $BEN 1
link $ATT 2
ip netns exec $VIC sh -c 'cd /tmp && exec python3 -m http.server 80 --bind 0.0.0.0' >/dev/null 2>&1 &
# A TCP service that answers and closes (a login banner) on 22 and 21.
for port in 21 22; do
	ip netns exec $VIC python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(128)
while True:
    c, _ = s.accept(); c.sendall(b"220 ready\r\n"); c.settimeout(1)
    try: c.recv(512); c.sendall(b"530 Login incorrect.\r\n")
    except Exception: pass
    c.close()' $port >/dev/null 2>&1 &
done
sleep 1
have() { command -v "$1" >/dev/null 2>&1 || { echo "dataset: $1 not installed, skipping $2" >&2; return 1; }; }
phase() { # phase NAME SECONDS NS CMD...: one capture of CMD run in NS
	name=$1 secs=$2 ns=$3; shift 3
	ip netns exec $VIC tcpdump -q -i any -s 256 -w "$OUT/$name.pcap" >/dev/null 2>&1 &
	td=$!
	sleep 1
	ip netns exec $ns timeout "$secs" "$@" >/dev/null 2>&1 || true
	sleep 1
	kill $td; wait $td 2>/dev/null || true
	echo "dataset: $name.pcap" >&2
}
V=198.18.2.1 W=198.18.1.1
if have curl "benign web"; then
	phase benign_web 30 $BEN sh -c "i=0; while [ \$i -lt 40 ]; do curl -s -o /dev/null http://$W/; wget -q -O /dev/null http://$W/; ping -c 1 -W 1 $W; i=\$((i+1)); sleep 0.5; done"
fi
if have nmap "nmap scans"; then
	phase nmap_syn 60 $ATT nmap -n -Pn -sS --top-ports 500 -T4 $V
	phase nmap_connect 60 $ATT nmap -n -Pn -sT --top-ports 300 -T4 $V
	phase nmap_fin 60 $ATT nmap -n -Pn -sF --top-ports 300 -T4 $V
	phase nmap_xmas 60 $ATT nmap -n -Pn -sX --top-ports 300 -T4 $V
	phase nmap_udp 60 $ATT nmap -n -Pn -sU --top-ports 50 -T5 $V
	phase nmap_version 60 $ATT nmap -n -Pn -sV -p 21,22,80 $V
fi
if have hping3 "hping3 floods"; then
	phase hping_syn 5 $ATT hping3 -q -S -p 80 -i u200 $V
	phase hping_udp 5 $ATT hping3 -q --udp -p 53 -i u200 $V
	phase hping_icmp 5 $ATT hping3 -q --icmp -i u500 $V
fi
phase brute_banner 30 $ATT sh -c "i=0; while [ \$i -lt 40 ]; do printf 'USER admin\r\nPASS x\r\n' | timeout 2 python3 -c 'import socket,sys; s=socket.create_connection((\"$V\",22)); s.recv(64); s.sendall(sys.stdin.buffer.read()); s.recv(64)' || true; i=\$((i+1)); sleep 0.3; done"
cat >"$OUT/labels.txt" <<LABELS
# made by dist/dataset.sh: the attacker's flows, by capture
nmap_*.pcap  198.18.2.2  scan
hping_*.pcap 198.18.2.2  dos
brute_*.pcap 198.18.2.2  bruteforce
LABELS
echo "dataset: $OUT/labels.txt" >&2
