package offline_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xdpids/xdpids/internal/testenv"
	"github.com/xdpids/xdpids/userspace/config"
	"github.com/xdpids/xdpids/userspace/detect/alert"
	"github.com/xdpids/xdpids/userspace/run/offline"
)

var corpusTable = flag.String("corpus-table", "", "write the corpus result table (Markdown) to this file")

// corpusCase is one capture of ../shared/corpus/attack-pcaps and what its
// README says an IDS should detect. any: one of these sids must alert on
// subject (a source banned after its first alert sends nothing more, so a
// FIN scan is caught as "FIN without ACK" or as a port scan, whichever
// comes first). none: no behavioural alert may fire. gap: a known miss.
type corpusCase struct {
	file     string
	expected string // the README's words, short
	any      []uint32
	subject  string
	none     bool
	gap      string
}

var scanSIDs = []uint32{alert.ScanVerticalTCP.SID, alert.ScanHorizontalTCP.SID, alert.FlagsNull.SID, alert.FlagsXmas.SID,
	alert.FlagsSynFin.SID, alert.FlagsFinNoAck.SID, alert.FlagsSynRst.SID}

var corpusCases = []corpusCase{
	{file: "scans/nmap_sS_synscan_scanme.pcapng", expected: "vertical SYN scan by 172.16.0.8", any: []uint32{alert.ScanVerticalTCP.SID}, subject: "172.16.0.8"},
	{file: "scans/nmap_sS_TCP_SYN_SCAN.pcap", expected: "vertical SYN scan by 192.168.1.10", any: []uint32{alert.ScanVerticalTCP.SID}, subject: "192.168.1.10"},
	{file: "scans/nmap_sF_FIN_SCAN.pcap", expected: "FIN scan by 192.168.1.10", any: scanSIDs, subject: "192.168.1.10"},
	{file: "scans/nmap_sN_NULL_SCAN.pcap", expected: "NULL scan by 192.168.1.10", any: scanSIDs, subject: "192.168.1.10"},
	{file: "scans/nmap_sX_XMAS_TREE_SCAN.pcap", expected: "XMAS scan by 192.168.1.10", any: scanSIDs, subject: "192.168.1.10"},
	{file: "scans/nmap_sA_ACK_SCAN.pcap", expected: "ACK scan by 192.168.1.10", any: scanSIDs, subject: "192.168.1.10"},
	{file: "scans/nmap_sU_UDP_SCAN.pcap", expected: "UDP port scan by 192.168.1.10", any: []uint32{alert.ScanVerticalUDP.SID}, subject: "192.168.1.10"},
	{file: "scans/nmap_sO_IP_PROTOCOL_SCAN.pcap", expected: "IP protocol scan by 192.168.1.10", any: []uint32{alert.ScanIPProto.SID}, subject: "192.168.1.10"},
	{file: "scans/nmap_sV_version_scan.pcap", expected: "vertical SYN scan by 192.168.1.10", any: []uint32{alert.ScanVerticalTCP.SID}, subject: "192.168.1.10"},
	{file: "scans/ppa_portscan.pcap", expected: "small vertical scan (29 ports) by 10.100.25.14", any: []uint32{alert.ScanVerticalTCP.SID}, subject: "10.100.25.14"},
	{file: "scans/nmap_O_activeosfingerprinting.pcapng", expected: "illegal flags (OS fingerprint) by 172.16.16.128", any: scanSIDs, subject: "172.16.16.128"},
	{file: "scans/ppa_icmp_osfingerprinting.pcap", expected: "ICMP timestamp/info/mask probes", any: []uint32{alert.ICMPRecon.SID}, subject: "10.0.0.29"},
	{file: "scans/xprobe2_icmp_echo_fingerprinting.pcap", expected: "ICMP 13/14/17 probes by 192.168.1.20", any: []uint32{alert.ICMPRecon.SID}, subject: "192.168.1.20"},
	{file: "scans/xprobe2_tcp_scan.pcap", expected: "vertical SYN scan by 192.168.1.20", any: []uint32{alert.ScanVerticalTCP.SID}, subject: "192.168.1.20"},
	{file: "scans/xscan_vuln_scanner.pcap", expected: "port scan by 192.168.1.125", any: []uint32{alert.ScanVerticalTCP.SID}, subject: "192.168.1.125"},
	{file: "scans/zeek_nmap-vsn_arp-sweep.pcap", expected: "ARP sweep (~500 addresses in 2.4 s); no IP-level threshold", any: []uint32{alert.ScanARPSweep.SID}},
	{file: "scans/zeek_vnc-scanner.pcap", expected: "single VNC probe: must NOT alert", none: true},
	{file: "floods/pkt.TCP.synflood.spoofed.pcap", expected: "spoofed SYN flood on 10.10.10.10", any: []uint32{alert.SynFloodDst.SID}, subject: "10.10.10.10"},
	{file: "floods/amp.TCP.reflection.SYNACK.pcap", expected: "SYN-ACK reflection flood on 10.10.10.10", any: []uint32{alert.SynAckReflect.SID}, subject: "10.10.10.10"},
	{file: "floods/amp.TCP.syn.optionallyACK.optionallysamePort.pcapng", expected: "low and slow (~1 pkt/s): must NOT alert", none: true},
	{file: "floods/amp.dns.RRSIG.fragmented.pcap", expected: "DNS amplification on 10.10.10.10", any: []uint32{alert.AmpDNS.SID, alert.AmpFragments.SID}, subject: "10.10.10.10"},
	{file: "floods/amp.UDP.snmp.src161.pcapng", expected: "SNMP reflection on 10.10.10.10", any: []uint32{alert.AmpSNMP.SID}, subject: "10.10.10.10"},
	{file: "floods/zeek_dhcp_flood.pcap", expected: "DHCP flood", any: []uint32{alert.DHCPFlood.SID}},
	{file: "bruteforce/zeek_ssh_sshguess.pcap", expected: "SSH password guessing by 192.168.56.1", any: []uint32{alert.BruteSSH.SID}, subject: "192.168.56.1"},
	{file: "bruteforce/zeek_ftp_bruteforce.pcap", expected: "FTP brute force by 192.168.56.1", any: []uint32{alert.BruteFTP.SID}, subject: "192.168.56.1"},
	{file: "exploits/ppa_blaster.pcap", expected: "content only (signatures): no behavioural alert", none: true},
	{file: "exploits/aurora_ie_exploit.pcapng", expected: "content only (signatures): no behavioural alert", none: true},
	{file: "exploits/http_dvwa_sqlinjection.pcapng", expected: "content only (signatures): no behavioural alert", none: true},
	{file: "exploits/http_dvwa_directorytraversal.pcapng", expected: "content only (signatures): no behavioural alert", none: true},
	{file: "exploits/dns_axfr.pcapng", expected: "content only (signatures): no behavioural alert", none: true},
}

// TestCorpus runs every capture of the shared corpus through `xdpids read`'s
// path (XDP via BPF_PROG_TEST_RUN, and userspace only) and checks the right
// detector names the right subject.
func TestCorpus(t *testing.T) {
	corpusDir := testenv.Corpus(t, "attack-pcaps")
	var table strings.Builder
	table.WriteString("| capture | expected (corpus README) | xdpids (XDP path) | result |\n|---|---|---|---|\n")
	for _, mode := range []offline.Mode{offline.ModeXDP, offline.ModeUserspace} {
		t.Run(string(mode), func(t *testing.T) {
			if mode == offline.ModeXDP {
				testenv.RequireBPF(t)
			}
			for _, c := range corpusCases {
				t.Run(filepath.Base(c.file), func(t *testing.T) {
					got, err := runCapture(filepath.Join(corpusDir, c.file), mode)
					if err != nil {
						t.Fatal(err)
					}
					ok, msg := c.check(got)
					if mode == offline.ModeXDP {
						res := "ok"
						if !ok {
							res = "FAIL: " + msg
						} else if c.gap != "" {
							res = "gap: " + c.gap
						}
						fmt.Fprintf(&table, "| `%s` | %s | %s | %s |\n", c.file, c.expected, describe(got), res)
					}
					if !ok {
						t.Errorf("%s: %s; alerts: %s", c.file, msg, describe(got))
					}
				})
			}
		})
	}
	if *corpusTable != "" {
		if err := os.WriteFile(*corpusTable, []byte(table.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type gotAlert struct {
	sid     uint32
	subject string
	action  string
}

func runCapture(path string, mode offline.Mode) ([]gotAlert, error) {
	cfg := config.Default()
	var got []gotAlert
	_, err := offline.Run(offline.Options{
		Path: path, Mode: mode, Datapath: cfg.DatapathConfig(), Pipeline: cfg.PipelineConfig(), Respond: cfg.ResponseConfig(),
		OnAlert: func(a *alert.Alert) {
			s := ""
			if a.Subject.IsValid() {
				s = a.Subject.String()
			}
			got = append(got, gotAlert{a.SID, s, a.Action})
		},
	})
	return got, err
}

func (c corpusCase) check(got []gotAlert) (bool, string) {
	if c.none {
		if len(got) > 0 {
			return false, "expected no alert"
		}
		return true, ""
	}
	for _, g := range got {
		if slices.Contains(c.any, g.sid) && (c.subject == "" || g.subject == c.subject) {
			return true, ""
		}
	}
	return false, fmt.Sprintf("no alert with sid in %v naming %s", c.any, c.subject)
}

func describe(got []gotAlert) string {
	if len(got) == 0 {
		return "no alert"
	}
	seen := map[string]int{}
	var keys []string
	for _, g := range got {
		k := fmt.Sprintf("%d %s (%s)", g.sid, g.subject, g.action)
		if seen[k] == 0 {
			keys = append(keys, k)
		}
		seen[k]++
	}
	for i, k := range keys {
		if seen[k] > 1 {
			keys[i] = fmt.Sprintf("%s x%d", k, seen[k])
		}
	}
	return strings.Join(keys, ", ")
}
