package xdptree

import (
	"testing"
)

// BenchmarkClassify: the Go evaluation of one flow direction (what the
// program computes in the kernel), on a model trained on the golden
// captures; it allocates nothing.
func BenchmarkClassify(b *testing.B) {
	ds := &Dataset{Classes: []string{Benign, "bruteforce", "dos"}}
	for i := range 300 {
		ds.X = append(ds.X, Vector{Proto: 6, DstPort: uint32(i % 7 * 11), Bytes: uint32(i * 37 % 5000), Duration: uint32(i * 101 % 9000),
			SYN: uint32(i % 3), PSH: uint32(i % 5)})
		ds.Y = append(ds.Y, i%3)
	}
	m, err := Train(ds, Options{Trees: 4, MaxDepth: 10, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	tree := m.Compile()
	v := ds.X[17]
	b.ReportAllocs()
	for b.Loop() {
		_ = Classify(tree, &v)
	}
}
