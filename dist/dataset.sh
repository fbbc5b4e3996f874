#!/bin/sh
# dataset.sh: a labelled dataset made by real tools in network namespaces
# (make dataset). Needs root. Test addresses only (198.18.0.0/16), no
# default route anywhere, every tool under timeout, everything removed at
# exit; about three minutes on two cores.
#
# A victim namespace holds a bridge with two addresses, 198.18.0.1 and
# 198.18.0.2, and the servers: a generated web site (python3 -m
# http.server, HTTP/1.1), HTTP basic auth and an injectable SQL page
# (dist/dataset-web.py), sshd and vsftpd with their own configuration in a
# temporary directory, dnsmasq (a hosts file and --address, never
# forwarding: --no-resolv, no upstream), iperf3, an echo chat (socat) and a
# login banner. Every tool run has a namespace of its own with one address
# on the bridge: benign clients 198.18.1.x, attackers 198.18.2.x. Two tracks
# run at once, one per victim address, each capture taken on the bridge
# with a filter on its track's address (so no flow is in two captures):
#
#   track 1 (198.18.0.1): benign_1 (web, DNS, ssh session, chat, iperf3),
#     nmap -sS -sT -sF -sX -sN -sA -sU -sV (scan), hping3 SYN, UDP, ICMP
#     floods (dos), sqlmap boolean and error/union runs (webattack);
#   track 2 (198.18.0.2): benign_2 (the same kinds), hydra against sshd,
#     vsftpd and HTTP basic auth and repeated logins to the banner
#     (bruteforce), slowhttptest slowloris and slow read (slowdos).
#
# A light benign client (curl, dig, ping) runs through each whole track, so
# every capture holds benign traffic from start to end. Out:
#   $DATASET_DIR/*.pcap
#   labels.txt    CAPTURE ADDRESS CLASS FROM TO: the tool run's address
#                 and time window (xdpids model features/train/eval --labels)
#   captures.tsv  CAPTURE SECONDS BENIGN-SECONDS (eval --captures: false
#                 alerts per hour of benign traffic)
# Tools not installed are skipped with a note.
set -eu
OUT=${DATASET_DIR:-dataset}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PFX=xd$$
VIC=${PFX}v
T=$(mktemp -d /tmp/xdpids-dataset.XXXXXX)
V1=198.18.0.1 V2=198.18.0.2 V3=198.18.0.3 V4=198.18.0.4
# DATASET_BENIGN_SECS=N: benign traffic only, four captures of N seconds at
# once (one per victim address: 4N seconds of benign traffic in N).
LONG=${DATASET_BENIGN_SECS:-}
cleanup() {
	kill ${t1pid:-} ${t2pid:-} 2>/dev/null || true
	for ns in $(ip netns list 2>/dev/null | awk -v p="$PFX" 'index($1, p) == 1 {print $1}'); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
now() { date +%s.%N | cut -c1-14; }
note() { echo "dataset: $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1 || { note "$1 not installed, skipping $2"; return 1; }; }
nsof() { echo "$PFX$(echo "$1" | awk -F. '{print "c" $3 "_" $4}')"; }
offload() { # no TSO/GSO/GRO: the capture sees wire-sized packets
	ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off >/dev/null 2>&1 || true
}

rm -rf "$OUT"/*.pcap "$OUT/labels.txt" "$OUT/captures.tsv" "$OUT/log"
mkdir "$OUT/log" # each attack tool's output
ip netns add "$VIC"
ip -n "$VIC" link set lo up
ip netns exec "$VIC" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n "$VIC" link add br0 type bridge
ip -n "$VIC" addr add $V1/16 dev br0
ip -n "$VIC" addr add $V2/16 dev br0
ip -n "$VIC" link set br0 up
offload "$VIC" br0
mkns() { # mkns ADDR: a client namespace with ADDR on a veth to the bridge
	ns=$(nsof "$1")
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip link add "${ns}h" type veth peer name eth0 netns "$ns"
	ip link set "${ns}h" netns "$VIC"
	ip -n "$VIC" link set "${ns}h" master br0 up
	ip -n "$ns" addr add "$1/16" dev eth0
	ip -n "$ns" link set eth0 up
	offload "$VIC" "${ns}h"
	offload "$ns" eth0
}
for a in 1.11 1.12 1.13 1.14 1.15 1.16 1.18 1.19 1.21 1.22 1.23 1.24 1.25 1.26 1.28 1.29 \
	2.11 2.12 2.13 2.14 2.15 2.16 2.17 2.18 2.21 2.22 2.23 2.31 2.32 \
	2.41 2.42 2.43 2.44 2.51 2.52; do
	mkns 198.18.$a
done
if [ -n "$LONG" ]; then
	for a in 1.31 1.32 1.33 1.34 1.35 1.36 1.41 1.42 1.43 1.44 1.45 1.46; do
		mkns 198.18.$a
	done
	ip -n "$VIC" addr add $V3/16 dev br0
	ip -n "$VIC" addr add $V4/16 dev br0
fi

# Servers, all in the victim namespace.
vx() { ip netns exec "$VIC" "$@"; }
python3 "$HERE/dataset-web.py" site "$T/site"
vx python3 -m http.server 80 --bind 0.0.0.0 -d "$T/site" -p HTTP/1.1 >/dev/null 2>&1 &
vx python3 "$HERE/dataset-web.py" basic 8080 >/dev/null 2>&1 &
vx python3 "$HERE/dataset-web.py" sqli 8081 >/dev/null 2>&1 &
vx python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 2323)); s.listen(128)
while True:
    c, _ = s.accept(); c.sendall(b"220 ready\r\n"); c.settimeout(1)
    try: c.recv(512); c.sendall(b"530 Login incorrect.\r\n")
    except Exception: pass
    c.close()' >/dev/null 2>&1 &
if have socat "the chat session"; then
	vx socat TCP-LISTEN:7000,fork,reuseaddr EXEC:cat >/dev/null 2>&1 &
	# the health check's agent port: a status line, then close
	vx socat TCP-LISTEN:7001,fork,reuseaddr SYSTEM:'echo up' >/dev/null 2>&1 &
fi
if have sshd "sshd (hydra ssh, the ssh session)"; then
	mkdir -p /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
	ssh-keygen -q -t ed25519 -N '' -f "$T/id"
	cp "$T/id.pub" "$T/authorized_keys"
	cat >"$T/sshd_config" <<EOF
Port 22
ListenAddress 0.0.0.0
HostKey $T/hostkey
PidFile $T/sshd.pid
AuthorizedKeysFile $T/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 200
MaxAuthTries 6
LoginGraceTime 15
EOF
	vx /usr/sbin/sshd -D -f "$T/sshd_config" >/dev/null 2>&1 &
fi
if have vsftpd "hydra ftp"; then
	mkdir -p "$T/empty"
	cat >"$T/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=NO
pam_service_name=vsftpd
nopriv_user=nobody
secure_chroot_dir=$T/empty
seccomp_sandbox=NO
xferlog_enable=NO
max_clients=200
max_per_ip=50
EOF
	vx vsftpd "$T/vsftpd.conf" >/dev/null 2>&1 &
fi
if have dnsmasq "DNS lookups"; then
	# dnsmasq reads the hosts file as nobody: $T is traversable, dns/ readable.
	chmod 711 "$T"
	mkdir -m 755 "$T/dns"
	awk 'BEGIN { for (i = 1; i <= 40; i++) printf "198.18.0.%d host%02d.lab.test host%02d\n", (i % 2) + 1, i, i }' >"$T/dns/hosts"
	chmod 644 "$T/dns/hosts"
	# Authoritative for lab.test (other names there are NXDOMAIN) and
	# example.test; no upstream, so nothing else is answered or forwarded.
	vx dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --addn-hosts="$T/dns/hosts" \
		--local=/lab.test/ --local=/example.test/ \
		--address=/example.test/$V1 --listen-address=$V1,$V2${LONG:+,$V3,$V4} --bind-interfaces --pid-file="$T/dnsmasq.pid" \
		--user=nobody --group=nogroup >/dev/null 2>&1 &
fi
if have iperf3 "bulk transfers"; then
	vx iperf3 -s -B $V1 >/dev/null 2>&1 &
	vx iperf3 -s -B $V2 >/dev/null 2>&1 &
	if [ -n "$LONG" ]; then
		vx iperf3 -s -B $V3 >/dev/null 2>&1 &
		vx iperf3 -s -B $V4 >/dev/null 2>&1 &
	fi
fi
sleep 1.5

# Lists for hydra: invalid users, passwords none of which is right.
printf 'admin\ntest\noracle\nuser\n' >"$T/users"
awk 'BEGIN { split("password 123456 qwerty letmein admin welcome monkey dragon master secret", w, " ");
	for (i = 1; i <= 10; i++) print w[i]; for (i = 1; i <= 400; i++) printf "pw%04d\n", i }' >"$T/passwords"
mkdir -p "$T/home" "$T/hydra"
cat >"$T/session" <<'EOF'
uptime
ls /usr/share | head -20
cat /etc/os-release
ps ax | head -15
df -h /
id
uname -a
ls -l /etc | tail -20
date
exit
EOF

. "$HERE/dataset-clients.sh"
in_ns() { # in_ns ADDR SECS FUNCTION ARGS...: run a client function in ADDR's namespace
	a=$1 s=$2; shift 2
	T=$T ip netns exec "$(nsof "$a")" timeout -k 1 "$s" sh -c ". '$HERE/dataset-clients.sh'; $*" >/dev/null 2>&1 || true
}
capture() { # capture NAME VIP: start a capture of VIP's traffic on the bridge
	# ip netns exec execs tcpdump: $! is tcpdump (an asynchronous
	# command ignores SIGINT, so it is stopped with SIGTERM).
	ip netns exec "$VIC" tcpdump -q -n -U -i br0 -s 256 -w "$OUT/$1.pcap" host "$2" >/dev/null 2>&1 &
	td=$!
	sleep 1
	c0=$(now)
}
endcapture() { # endcapture NAME: stop it, record its duration (benign traffic throughout)
	sleep 1
	c1=$(now)
	kill $td 2>/dev/null || true
	wait $td 2>/dev/null || true
	echo "$1.pcap $c0 $c1" | awk '{ printf "%s %.1f %.1f\n", $1, $3 - $2, $3 - $2 }' >>"$OUT/captures.tsv"
	note "$1.pcap"
}
attack() { # attack NAME VIP CLASS ADDR SECS CMD...: one capture of CMD run from ADDR
	name=$1 vip=$2 class=$3 addr=$4 secs=$5
	shift 5
	capture "$name" "$vip"
	t0=$(now)
	ip netns exec "$(nsof "$addr")" timeout -k 2 "$secs" "$@" </dev/null >"$OUT/log/$name.log" 2>&1 || true
	ip netns pids "$(nsof "$addr")" | xargs -r kill -9 2>/dev/null || true
	t1=$(now)
	echo "$name.pcap $addr $class $t0 $t1" | awk '{ printf "%-18s %-12s %-10s %.1f %.1f\n", $1, $2, $3, $4 - 0.5, $5 + 1 }' >>"$OUT/labels.txt"
	endcapture "$name"
}
benign() { # benign NAME VIP BASE SECS: every benign kind at once, from BASE.1..5
	name=$1 vip=$2 b=$3 secs=$4
	capture "$name" "$vip"
	# shellcheck disable=SC2015
	have curl "benign web" && in_ns "${b}1" "$secs" web "$vip" &
	have dig "DNS lookups" && in_ns "${b}2" "$secs" dns "$vip" &
	have ssh "the ssh session" && in_ns "${b}3" "$secs" ssh_session "$vip" &
	have socat "the chat session" && in_ns "${b}4" "$secs" chat "$vip" &
	have iperf3 "bulk transfers" && in_ns "${b}5" "$secs" bulk "$vip" &
	have socat "health checks" && in_ns "${b}6" "$secs" healthcheck "$vip" &
	wait_jobs "$secs"
	endcapture "$name"
}
benign_long() { # benign_long NAME VIP BASE SECS: every benign kind, again and again, for SECS
	name=$1 vip=$2 b=$3 secs=$4
	capture "$name" "$vip"
	in_ns "${b}1" "$secs" web "$vip" &
	in_ns "${b}2" "$secs" dns "$vip" &
	in_ns "${b}3" "$secs" repeat 5 20 60 120 -- ssh_session "$vip" &
	in_ns "${b}4" "$secs" repeat 2 10 30 90 -- chat "$vip" &
	in_ns "${b}5" "$secs" bulk_rare "$vip" &
	in_ns "${b}6" "$secs" healthcheck "$vip" &
	wait_jobs "$secs"
	endcapture "$name"
}
wait_jobs() { sleep "$1"; sleep 1; }

track1() {
	bgaddr=198.18.1.19 hcaddr=198.18.1.18
	in_ns $bgaddr 600 background $V1 &
	bg=$!
	have socat "health checks" && in_ns $hcaddr 600 healthcheck $V1 &
	hc=$!
	benign benign_1 $V1 198.18.1.1 60
	if have nmap "nmap scans"; then
		attack nmap_syn $V1 scan 198.18.2.11 20 nmap -n -Pn -sS --top-ports 500 -T4 $V1
		attack nmap_connect $V1 scan 198.18.2.12 20 nmap -n -Pn -sT --top-ports 300 -T4 $V1
		attack nmap_fin $V1 scan 198.18.2.13 20 nmap -n -Pn -sF --top-ports 300 -T4 $V1
		attack nmap_xmas $V1 scan 198.18.2.14 20 nmap -n -Pn -sX --top-ports 300 -T4 $V1
		attack nmap_null $V1 scan 198.18.2.15 20 nmap -n -Pn -sN --top-ports 300 -T4 $V1
		attack nmap_ack $V1 scan 198.18.2.16 20 nmap -n -Pn -sA --top-ports 300 -T4 $V1
		attack nmap_udp $V1 scan 198.18.2.17 15 nmap -n -Pn -sU --top-ports 50 -T5 --max-retries 1 $V1
		attack nmap_version $V1 scan 198.18.2.18 20 nmap -n -Pn -sV --version-light -p 21,22,53,80,2323,5201,7000,8080,8081 $V1
	fi
	if have hping3 "hping3 floods"; then
		attack hping_syn $V1 dos 198.18.2.21 4 hping3 -q -S -p 80 -i u200 $V1
		attack hping_udp $V1 dos 198.18.2.22 4 hping3 -q --udp -p 53 -i u200 $V1
		attack hping_icmp $V1 dos 198.18.2.23 4 hping3 -q --icmp -i u500 $V1
	fi
	if have sqlmap "sqlmap"; then
		attack sqlmap_bool $V1 webattack 198.18.2.31 22 env HOME="$T/home" sqlmap -u "http://$V1:8081/item?id=1" \
			--batch --level 1 --risk 1 --technique B --dump -T users --threads 2 --flush-session \
			--output-dir "$T/sqlmap1" --disable-coloring -v 0
		attack sqlmap_union $V1 webattack 198.18.2.32 22 env HOME="$T/home" sqlmap -u "http://$V1:8081/item?id=2" \
			--batch --level 3 --risk 2 --technique BU --dump-all --flush-session \
			--output-dir "$T/sqlmap2" --disable-coloring -v 0
	fi
	kill $bg $hc 2>/dev/null || true
	ip netns pids "$(nsof $bgaddr)" | xargs -r kill -9 2>/dev/null || true
	ip netns pids "$(nsof "$hcaddr")" | xargs -r kill -9 2>/dev/null || true
}

track2() {
	bgaddr=198.18.1.29 hcaddr=198.18.1.28
	in_ns $bgaddr 600 background $V2 &
	bg=$!
	have socat "health checks" && in_ns $hcaddr 600 healthcheck $V2 &
	hc=$!
	benign benign_2 $V2 198.18.1.2 60
	if have hydra "hydra"; then
		attack hydra_ssh $V2 bruteforce 198.18.2.41 18 sh -c "cd $T/hydra && exec hydra -I -v -V -w 2 -L $T/users -P $T/passwords -t 4 ssh://$V2"
		attack hydra_ftp $V2 bruteforce 198.18.2.42 18 sh -c "cd $T/hydra && exec hydra -I -v -V -w 2 -L $T/users -P $T/passwords -t 16 ftp://$V2"
		attack hydra_http $V2 bruteforce 198.18.2.43 12 sh -c "cd $T/hydra && exec hydra -I -v -V -w 2 -L $T/users -P $T/passwords -t 4 -s 8080 $V2 http-get /"
	fi
	if have socat "repeated banner logins"; then
		attack brute_banner $V2 bruteforce 198.18.2.44 12 sh -c "while :; do printf 'USER admin\\r\\nPASS x\\r\\n' | socat -t 1 - TCP:$V2:2323 || true; sleep 0.1; done"
	fi
	if have slowhttptest "slowhttptest"; then
		attack slowloris $V2 slowdos 198.18.2.51 18 slowhttptest -H -c 300 -i 3 -r 60 -l 15 -x 20 -p 3 -u "http://$V2/"
		attack slowread $V2 slowdos 198.18.2.52 18 slowhttptest -X -c 200 -r 50 -l 15 -k 2 -n 2 -w 10 -y 20 -z 32 -p 3 -u "http://$V2/img/big.bin"
	fi
	kill $bg $hc 2>/dev/null || true
	ip netns pids "$(nsof $bgaddr)" | xargs -r kill -9 2>/dev/null || true
	ip netns pids "$(nsof "$hcaddr")" | xargs -r kill -9 2>/dev/null || true
}

start=$(now)
if [ -n "$LONG" ]; then
	echo "# made by dist/dataset.sh (DATASET_BENIGN_SECS=$LONG): benign only" >"$OUT/labels.txt"
	echo "# made by dist/dataset.sh: CAPTURE SECONDS BENIGN-SECONDS (benign only)" >"$OUT/captures.tsv"
	i=1 lp=""
	for v in $V1 $V2 $V3 $V4; do
		benign_long benign_long_$i $v 198.18.1.$i "$LONG" &
		lp="$lp $!"
		i=$((i + 1))
	done
	for p in $lp; do wait "$p" || true; done
	note "$(ls "$OUT"/*.pcap | wc -l) benign captures in $OUT ($(echo "$start $(now)" | awk '{ printf "%.0f", $2 - $1 }') s)"
	exit 0
fi
{
	echo "# made by dist/dataset.sh: CAPTURE ADDRESS CLASS FROM TO (Unix seconds), one tool run each;"
	echo "# every other flow is benign"
} >"$OUT/labels.txt"
echo "# made by dist/dataset.sh: CAPTURE SECONDS BENIGN-SECONDS (benign traffic runs through every capture)" >"$OUT/captures.tsv"
track1 &
t1pid=$!
track2 &
t2pid=$!
wait $t1pid || true
wait $t2pid || true
note "$(ls "$OUT"/*.pcap | wc -l) captures, labels.txt, captures.tsv in $OUT ($(echo "$start $(now)" | awk '{ printf "%.0f", $2 - $1 }') s)"
