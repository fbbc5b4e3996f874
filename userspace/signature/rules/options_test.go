package rules

import "testing"

func TestThresholdBackoff(t *testing.T) {
	set, sk := Parse(`alert ip any any -> any any (threshold: type backoff, track by_flow, count 2, multiplier 10; sid:1;)`, "f.rules", Vars{})
	if len(sk) != 0 || set.Len() != 1 {
		t.Fatalf("skipped %v", sk)
	}
	th := set.Rules[0].Threshold
	if th == nil || th.Type != TypeBackoff || th.Track != TrackByFlow || th.Count != 2 || th.Multiplier != 10 {
		t.Fatalf("threshold %+v", th)
	}
	for _, bad := range []string{
		`threshold: type backoff, track by_flow, count 2;`,                          // no multiplier
		`threshold: type backoff, track by_flow, multiplier 2;`,                     // no count
		`threshold: type backoff, track by_flow, count 0, multiplier 2;`,            // count 0
		`threshold: type backoff, track by_flow, count 2, multiplier 0;`,            // multiplier 0
		`threshold: type backoff, track by_src, count 2, multiplier 2;`,             // by_flow only
		`threshold: type backoff, track by_flow, count 2, multiplier 2, seconds 1;`, // no seconds
		`threshold: type limit, track by_src, count 2, seconds 1, multiplier 2;`,    // backoff only
		`detection_filter: track by_src, count 2, seconds 1, multiplier 2;`,
	} {
		if set, sk := Parse(`alert ip any any -> any any (`+bad+` sid:1;)`, "f.rules", Vars{}); set.Len() != 0 || len(sk) != 1 || sk[0].Reason != "malformed rule" {
			t.Errorf("%s: loaded %d skipped %v", bad, set.Len(), sk)
		}
	}
}

func TestStreamSizeParse(t *testing.T) {
	set, sk := Parse(`alert tcp any any -> any any (stream_size:server,<,1111; stream_size: either , >= , 7; stream_size:client,!=,0; sid:1;)`, "f.rules", Vars{})
	if len(sk) != 0 || set.Len() != 1 {
		t.Fatalf("skipped %v", sk)
	}
	want := []StreamSize{{StreamServer, Num{Op: NumLt, A: 1111}}, {StreamEither, Num{Op: NumGe, A: 7}}, {StreamClient, Num{Op: NumNe}}}
	if got := set.Rules[0].StreamSize; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("stream_size %+v, want %+v", got, want)
	}
	for _, bad := range []string{"server", "up,<,1", "server,<<,1", "server,<,x", "server,<,4294967296", "server,1<>5"} {
		if set, _ := Parse(`alert tcp any any -> any any (stream_size:`+bad+`; sid:1;)`, "f.rules", Vars{}); set.Len() != 0 {
			t.Errorf("%q loaded", bad)
		}
	}
}
