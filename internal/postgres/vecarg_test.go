package postgres

import (
	"testing"

	"github.com/pgvector/pgvector-go"
)

// TestVecArg: vectors go as values (pgvector's binary codec) when none is
// NULL, and as the pointers, NULLs included, when one is.
func TestVecArg(t *testing.T) {
	a, b := pgvector.NewHalfVector([]float32{1, 0}), pgvector.NewHalfVector([]float32{0, 1})
	vs, ok := vecArg([]*pgvector.HalfVector{&a, &b}).([]pgvector.HalfVector)
	if !ok || len(vs) != 2 || vs[0].Slice()[0] != 1 || vs[1].Slice()[1] != 1 {
		t.Fatalf("all present: got %#v, want the two values in order", vs)
	}
	ps, ok := vecArg([]*pgvector.HalfVector{&a, nil}).([]*pgvector.HalfVector)
	if !ok || len(ps) != 2 || ps[0] != &a || ps[1] != nil {
		t.Fatalf("one NULL: got %#v, want the pointers with the NULL kept", ps)
	}
}
