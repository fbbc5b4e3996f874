package loader

import (
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

func BenchmarkZZNewFlow(b *testing.B) {
	d, base := benchDatapath(b)
	pkt := benchPacket(b, nil, nil, netip.MustParseAddr("198.18.0.0"), benchDst, layers.IPProtocolTCP, 0, 80, true, false)
	chainIDS := benchNewFlowChain(b, d.Program())
	_ = base
	n := 20
	if os.Getenv("ZZN") != "" {
		n = 400
	}
	for i := 0; i < n; i++ {
		_, dur, _ := chainIDS.Benchmark(pkt, 20000, nil)
		st := benchStats(b, d, 0)
		fmt.Println(i, dur, "flows_new", st.FlowsNew, "total", st.Total().Packets, "over", st.SamplesOverBudget, "sent", st.SamplesSent, "lost", st.SamplesLost)
	}
}
