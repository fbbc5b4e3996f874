"""The seed article's baseline: parse every frame of a capture with dpkt and
count the TCP segments. Prints packets, tcp and the loop's seconds."""
import sys
import time

import dpkt

start = time.perf_counter()
packets = tcp = 0
with open(sys.argv[1], "rb") as f:
    try:
        reader = dpkt.pcapng.Reader(f)
    except ValueError:
        f.seek(0)
        reader = dpkt.pcap.Reader(f)
    for _, buf in reader:
        packets += 1
        eth = dpkt.ethernet.Ethernet(buf)
        if isinstance(eth.data, (dpkt.ip.IP, dpkt.ip6.IP6)) and isinstance(eth.data.data, dpkt.tcp.TCP):
            tcp += 1
print(packets, tcp, time.perf_counter() - start)
