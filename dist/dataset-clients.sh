#!/bin/sh
# dataset-clients.sh: the benign clients of dist/dataset.sh, sourced by it
# and by the shell it starts in each client namespace. Each runs until
# killed (the caller bounds it with timeout), with pauses like a user's.
# T is dataset.sh's temporary directory (the ssh key, the session).
pick() { shuf -n1 -e "$@"; }
web() { # web VIP: pages over keep-alive, wget -r of the site, the apps' pages, pings
	while :; do
		curl -s -o /dev/null -o /dev/null -o /dev/null "http://$1/$(pick page0 page1 page2)$(pick 1 2 3 4 5 6 7 8 9).html" \
			"http://$1/page1$(pick 0 1 2 3).html" "http://$1/img/i0$(pick 1 2 3 4 5).bin" || true
		sleep "$(pick 0.3 0.6 1 1.5 2.5)"
		[ "$(pick 0 1 2 3)" = 0 ] && { wget -q -r -l 1 -np -P "$T/wget.$1.$$" "http://$1/page0$(pick 1 2 3).html" || true; rm -rf "$T/wget.$1.$$"; }
		[ "$(pick 0 1 2)" = 0 ] && { curl -s -o /dev/null "http://$1:8081/item?id=$(pick 1 2 3 4 5 6 7)" || true; }
		[ "$(pick 0 1 2)" = 0 ] && { curl -s -o /dev/null -u admin:letmein-7d3f "http://$1:8080/" || true; }
		[ "$(pick 0 1 2 3)" = 0 ] && { ping -c 2 -i 0.5 -W 1 "$1" >/dev/null || true; }
		sleep "$(pick 0.2 0.5 1 2)"
	done
}
dns() { # dns VIP: lookups of lab names, example.test, names that do not exist
	while :; do
		n=$(pick "host$(pick 0 1 2 3)$(pick 1 2 3 4 5 6 7 8 9).lab.test" "www.example.test" "api.example.test" \
			"nope$(pick 1 2 3).lab.test" "host0$(pick 1 2 3)")
		dig @"$1" +tries=1 +time=1 $(pick +notcp +notcp +notcp +tcp) "$n" $(pick A A AAAA MX) >/dev/null || true
		sleep "$(pick 0.1 0.2 0.4 0.7 1.5)"
	done
}
ssh_session() { # ssh_session VIP: a key login running commands slowly
	while read -r c; do echo "$c"; sleep "$(pick 1 2 3)"; done <"$T/session" |
		ssh -F /dev/null -i "$T/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
			-o BatchMode=yes -o LogLevel=ERROR -tt root@"$1" >/dev/null 2>&1 || true
}
chat() { # chat VIP: lines typed with pauses over one TCP connection
	i=0
	while [ $i -lt 40 ]; do echo "line $i $(pick hello ok 'what about the route' 'see the capture' bye)"; sleep "$(pick 0.2 0.5 1 2 3)"; i=$((i + 1)); done |
		socat - TCP:"$1":7000 >/dev/null 2>&1 || true
}
bulk() { # bulk VIP: short rate-limited iperf3 runs, TCP both ways and UDP
	iperf3 -c "$1" -t 4 -b 20M >/dev/null 2>&1 || true
	sleep 2
	iperf3 -c "$1" -u -t 4 -b 4M -l 1200 >/dev/null 2>&1 || true
	sleep 2
	iperf3 -c "$1" -R -t 3 -b 10M >/dev/null 2>&1 || true
	sleep 2
	iperf3 -c "$1" -t 3 -b 40M -P 2 >/dev/null 2>&1 || true
}
background() { # background VIP: a light client through a whole track
	while :; do
		curl -s -o /dev/null "http://$1/page$(pick 0 1 2 3)$(pick 1 3 5 7).html" || true
		dig @"$1" +tries=1 +time=1 "host$(pick 1 2 3)$(pick 1 4 7).lab.test" >/dev/null || true
		[ "$(pick 0 1 2 3 4)" = 0 ] && { ping -c 1 -W 1 "$1" >/dev/null || true; }
		sleep "$(pick 0.5 1 1.5 2 3)"
	done
}
healthcheck() { # healthcheck VIP: a monitoring system's probes, on a fixed beat
	# Like a load balancer and a blackbox exporter: every 0.3 s a ping, a
	# TCP connect-and-close to the web port and an agent check (the server
	# writes a status line and closes); every 2 s an HTTP GET; every
	# 5 s the ssh and ftp banners, a DNS query and the other services' ports
	# opened and closed. Many short flows from one source to a few ports,
	# all answered: what a scan is not.
	i=0
	while :; do
		ping -c 1 -W 1 "$1" >/dev/null 2>&1 || true
		socat -u /dev/null TCP:"$1":80,connect-timeout=1 >/dev/null 2>&1 || true
		# an agent check (HAProxy's agent-check): connect, read the status line, close
		# (every other one a TCP check of that port: connect and close at once)
		if [ $((i % 2)) = 0 ]; then
			socat -u TCP:"$1":7001,connect-timeout=1 /dev/null >/dev/null 2>&1 || true
		else
			socat -u /dev/null TCP:"$1":7001,connect-timeout=1 >/dev/null 2>&1 || true
		fi
		if [ $((i % 7)) = 0 ]; then curl -s -m 2 -o /dev/null "http://$1/page01.html" || true; fi
		if [ $((i % 17)) = 0 ]; then
			socat -t 1 - TCP:"$1":22,connect-timeout=1 </dev/null >/dev/null 2>&1 || true
			socat -t 1 - TCP:"$1":21,connect-timeout=1 </dev/null >/dev/null 2>&1 || true
			dig @"$1" +tries=1 +time=1 "host01.lab.test" >/dev/null 2>&1 || true
			for p in 7000 8080 8081 5201; do socat -u /dev/null TCP:"$1":$p,connect-timeout=1 >/dev/null 2>&1 || true; done
		fi
		i=$((i + 1))
		sleep 0.3
	done
}
repeat() { # repeat PAUSES... -- FUNCTION ARGS...: FUNCTION again and again, a random pause between
	ps=""
	while [ "$1" != -- ]; do ps="$ps $1"; shift; done
	shift
	while :; do
		"$@"
		# shellcheck disable=SC2086
		sleep "$(pick $ps)"
	done
}
bulk_rare() { # bulk_rare VIP: one small iperf3 run every few minutes
	while :; do
		sleep "$(pick 60 120 200)"
		iperf3 -c "$1" -t 3 -b "$(pick 5M 10M 20M)" $(pick "" -R) >/dev/null 2>&1 || true
	done
}
