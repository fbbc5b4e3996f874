package signature

import (
	"slices"
	"testing"

	"github.com/xdpids/xdpids/userspace/signature/rules"
)

// recompile compiles text on h's engine's state and swaps it in, as a
// reload does.
func (h *harness) recompile(text string) {
	h.t.Helper()
	set, skipped := rules.Parse(text, "reload.rules", rules.Vars{})
	if len(skipped) > 0 {
		h.t.Fatalf("rule skipped: %v", skipped[0].Error())
	}
	e, err := CompileWith(set, Options{State: h.eng.State()})
	if err != nil {
		h.t.Fatal(err)
	}
	h.eng = e
}

// TestStateSurvivesRecompile: a rule set compiled on the running state
// sees the flowbits, host bits and threshold counters the old one left,
// whatever order its rules name the bits in; a fresh state sees none.
func TestStateSurvivesRecompile(t *testing.T) {
	t.Run("flowbits", func(t *testing.T) {
		h := newHarness(t, `alert tcp any any -> any any (content:"login"; flowbits:set,auth; flowbits:noalert; sid:1;)`, Options{})
		h.handshake(cli, srv, 40000, 80)
		h.send(frame(t, req("login")))
		// The new set names another bit first: bit numbers come from the
		// state, not from the rule order.
		h.recompile(`alert tcp any any -> any any (content:"x"; flowbits:set,other; sid:3;)
alert tcp any any -> any any (content:"cmd"; flowbits:isset,auth; sid:2;)`)
		if got := h.send(frame(t, req("cmd"))); !slices.Equal(got, []uint32{2}) {
			t.Errorf("after the swap: %v, want [2] (the bit set before it)", got)
		}
		fresh := newHarness(t, `alert tcp any any -> any any (content:"cmd"; flowbits:isset,auth; sid:2;)`, Options{})
		fresh.handshake(cli, srv, 40000, 80)
		if got := fresh.send(frame(t, req("cmd"))); len(got) != 0 {
			t.Errorf("fresh state: %v", got)
		}
	})
	t.Run("hostbits", func(t *testing.T) {
		h := newHarness(t, `alert tcp any any -> any any (content:"login"; hostbits:set,seen,track ip_src; sid:1;)`, Options{})
		h.handshake(cli, srv, 40000, 80)
		h.send(frame(t, req("login")))
		h.recompile(`alert tcp any any -> any any (content:"cmd"; hostbits:isset,seen,track ip_src; sid:2;)`)
		h.handshake(cli, srv, 40001, 80) // another connection of the same host
		p := req("cmd")
		p.sport = 40001
		if got := h.send(frame(t, p)); !slices.Equal(got, []uint32{2}) {
			t.Errorf("after the swap: %v, want [2]", got)
		}
	})
	t.Run("threshold", func(t *testing.T) {
		const r = `alert tcp any any -> any any (content:"x"; threshold:type limit, track by_src, count 2, seconds 60; sid:1;)`
		h := newHarness(t, r, Options{})
		h.handshake(cli, srv, 40000, 80)
		h.send(frame(t, req("x")))
		h.send(frame(t, req("x")))
		h.recompile(r)
		if got := h.send(frame(t, req("x"))); len(got) != 0 {
			t.Errorf("after the swap the limit of 2 started over: %v", got)
		}
	})
}

// TestFlowStateLivesOnFlow: the state is on the flow, counted, and
// freed by FlowEnd.
func TestFlowStateLivesOnFlow(t *testing.T) {
	h := newHarness(t, `alert tcp any any -> any any (content:"a"; flowbits:set,x; flowbits:noalert; sid:1;)`, Options{})
	h.handshake(cli, srv, 40000, 80)
	h.send(frame(t, req("a")))
	f := h.lastFlow(t)
	if f.Sig == nil || h.eng.Stats().FlowStates != 1 {
		t.Fatalf("no state on the flow: %v, %d counted", f.Sig, h.eng.Stats().FlowStates)
	}
	h.eng.FlowEnd(f)
	if f.Sig != nil || h.eng.Stats().FlowStates != 0 {
		t.Errorf("after FlowEnd: %v, %d counted", f.Sig, h.eng.Stats().FlowStates)
	}
}
