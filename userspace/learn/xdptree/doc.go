// Package xdptree is the in-kernel model (issue 11): a small tree
// ensemble the XDP program evaluates at packet N of a flow direction,
// from the counters it keeps in its own flow table entry.
//
// It holds the Go side of every definition the program uses: the kernel
// view of a frame (parse.go mirrors bpf/xdpids.c's parser, so flows are
// keyed and counted as the program keys and counts them), the features
// as the program computes them (integers only: the same bytes give the
// same vector in Go and in BPF), a CART trainer on those features with
// integer thresholds, an integer evaluator that decides as the program
// does, the model file (kind "xdp-forest") and its compilation into
// loader.Tree.
//
// XDP sees ingress only, so the features are of one direction: a live
// server's XDP program never sees its own replies. The trainer labels a
// flow's originator direction with the flow's label; the reply direction
// of an attack is left out of training, that of benign traffic is benign.
package xdptree
