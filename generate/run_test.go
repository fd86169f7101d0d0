package generate

import (
	"context"
	"errors"
	"testing"
)

func TestMemoryStoreKeepsTheNewestRuns(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore(3)
	for _, r := range []Run{{ID: "a", AppID: "x"}, {ID: "b", AppID: "y"}, {ID: "c", AppID: "x"}, {ID: "d", AppID: "x"}} {
		if err := s.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Get(ctx, "a"); !errors.Is(err, ErrRunNotFound) {
		t.Fatalf("oldest run kept: %v", err)
	}
	runs, _ := s.List(ctx, "x", 0)
	if len(runs) != 2 || runs[0].ID != "d" || runs[1].ID != "c" {
		t.Fatalf("List(x) = %+v", runs)
	}
	runs, _ = s.List(ctx, "", 1)
	if len(runs) != 1 || runs[0].ID != "d" {
		t.Fatalf("List limit 1 = %+v", runs)
	}
	r, _ := s.Get(ctx, "b")
	r.Selection = append(r.Selection, "mutated")
	if again, _ := s.Get(ctx, "b"); len(again.Selection) != 0 {
		t.Fatal("Get returned shared state")
	}
}
