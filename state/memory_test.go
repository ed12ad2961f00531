package state

import (
	"context"
	"errors"
	"testing"
)

func TestMemoryChain(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	for _, a := range []string{"token.activate", "key.generate", "key.remove"} {
		if _, err := m.Append(ctx, Entry{Actor: "admin", Action: a, Target: "token/demo", Outcome: "ok", Details: map[string]string{"k": a}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Verify(ctx); err != nil {
		t.Fatalf("Verify of an untouched log: %v", err)
	}
	all, err := m.Entries(ctx, 0, 0)
	if err != nil || len(all) != 3 || all[0].Seq != 1 || all[2].Seq != 3 {
		t.Fatalf("Entries(0, 0) = %d entries, %v", len(all), err)
	}
	page, _ := m.Entries(ctx, 1, 1)
	if len(page) != 1 || page[0].Action != "key.generate" {
		t.Fatalf("Entries(1, 1) = %+v", page)
	}
	tests := []struct {
		name   string
		tamper func(m *Memory)
		seq    int64 // the first bad record Verify must name
	}{
		{"edited outcome", func(m *Memory) { m.entries[1].Outcome = "refused" }, 2},
		{"edited details", func(m *Memory) { m.entries[0].Details["k"] = "x" }, 1},
		{"deleted record", func(m *Memory) { m.entries = append(m.entries[:1], m.entries[2:]...) }, 2},
		{"reordered", func(m *Memory) { m.entries[0], m.entries[1] = m.entries[1], m.entries[0] }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewMemory()
			for _, e := range all {
				e.Seq, e.Prev, e.Hash = 0, nil, nil
				if _, err := c.Append(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			tt.tamper(c)
			var ce *ChainError
			if err := c.Verify(ctx); !errors.As(err, &ce) || ce.Seq != tt.seq {
				t.Fatalf("Verify after %s = %v, want a ChainError at record %d", tt.name, err, tt.seq)
			}
		})
	}
}
