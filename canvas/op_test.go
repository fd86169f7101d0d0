package canvas

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func TestParseOpIsStrict(t *testing.T) {
	cases := []struct {
		name, line string
		ok         bool
	}{
		{"create", `{"op":"create","id":"b1","type":"button","page":"home","props":{"label":"Go"},"index":0}`, true},
		{"create with null parent", `{"op":"create","type":"text","parent":null}`, true},
		{"update with null prop", `{"op":"update","id":"b1","props":{"label":null}}`, true},
		{"setHandler", `{"op":"setHandler","handler":"h","name":"f","lang":"js","source":"x"}`, true},
		{"not json", `{"op":`, false},
		{"not an object", `["create"]`, false},
		{"missing op", `{"id":"x"}`, false},
		{"op not a string", `{"op":1}`, false},
		{"unknown op", `{"op":"explode"}`, false},
		{"field the op does not take", `{"op":"delete","id":"x","props":{}}`, false},
		{"unknown field", `{"op":"create","type":"text","colour":"red"}`, false},
		{"missing required field", `{"op":"create","id":"x"}`, false},
		{"wrong field type", `{"op":"create","type":"text","index":"3"}`, false},
		{"fractional index", `{"op":"create","type":"text","index":1.5}`, false},
		{"null field", `{"op":"create","type":null}`, false},
		{"trailing data", `{"op":"delete","id":"x"} {"op":"delete","id":"y"}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseOp([]byte(c.line))
			if c.ok && err != nil || !c.ok && !errors.Is(err, ErrInvalidOp) {
				t.Fatalf("ParseOp err = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

// TestApplyStreamOfJSONLines drives every op through its JSON form, the
// way the AI co-editor streams them.
func TestApplyStreamOfJSONLines(t *testing.T) {
	d := newTestApp(t, BlankTemplate)
	stream := `
{"op":"addPage","page":"about","name":"About","route":"/about"}
{"op":"renamePage","page":"about","name":"About us"}
{"op":"reorderPage","page":"about","index":0}
{"op":"create","id":"box","type":"card","page":"home","props":{"title":"Hello"}}
{"op":"create","id":"msg","type":"text","parent":"box","props":{"text":"hi"},"style":{"color":"#333"}}
{"op":"create","id":"btn","type":"button","parent":"box","before":"msg","layout":{"w":120}}
{"op":"update","id":"msg","props":{"variant":"muted"},"layout":{"grow":1},"style":{"color":null}}
{"op":"move","id":"msg","page":"about"}
{"op":"setHandler","handler":"hi","name":"sayHi","lang":"js","source":"state.said = 'hi'"}
{"op":"bindEvent","id":"btn","event":"click","handler":"hi"}
{"op":"setBinding","id":"msg","prop":"text","expr":"state.said"}
{"op":"setTheme","tokens":{"primary":"#123456"}}
{"op":"unsetBinding","id":"msg","prop":"text"}
{"op":"unbindEvent","id":"btn","event":"click"}
{"op":"deleteHandler","handler":"hi"}
{"op":"create","id":"gone","type":"divider","page":"about"}
{"op":"delete","id":"gone"}
{"op":"addPage","page":"tmp","name":"Temp"}
{"op":"deletePage","page":"tmp"}
`
	sc := bufio.NewScanner(strings.NewReader(stream))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		op, err := ParseOp(sc.Bytes())
		must(t, err)
		if _, err := Apply(d, Actor{ID: "ai", Run: "r1"}, op); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
	}
	tr, repairs := Materialize(d)
	if len(repairs) > 0 {
		t.Fatalf("repairs %+v", repairs)
	}
	if got := pageIDs(tr); got != "about home" {
		t.Fatalf("pages = %s", got)
	}
	if got := childIDs(tr.Node("box")); got != "btn" {
		t.Fatalf("box children = %s", got)
	}
	msg := tr.Node("msg")
	if msg.Page != "about" || msg.Props["variant"] != "muted" || msg.Layout["grow"] != 1.0 || msg.Style["color"] != nil || msg.AIRun != "r1" {
		t.Fatalf("msg = %+v", msg.Component)
	}
	if tr.Page("about").Name != "About us" || tr.Page("tmp") != nil || tr.Node("gone") != nil {
		t.Fatal("page ops not applied")
	}
	assertValid(t, d)
}

func TestApplyRejectsUnknownOp(t *testing.T) {
	d := newTestApp(t, BlankTemplate)
	_, err := Apply(d, Actor{}, Op{Op: "explode"})
	wantErr(t, err, ErrInvalidOp)
}

func FuzzParseOp(f *testing.F) {
	for _, s := range []string{
		`{"op":"create","id":"b1","type":"button","props":{"label":"Go"}}`,
		`{"op":"move","id":"b1","parent":null,"index":0}`,
		`{"op":"setTheme","tokens":{"a":1}}`,
		`{"op":"update","id":"x","props":{"a":[1,{"b":null}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := ParseOp(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidOp) {
				t.Fatalf("error %v does not wrap ErrInvalidOp", err)
			}
			return
		}
		if _, ok := opFields[op.Op]; !ok {
			t.Fatalf("accepted unknown op %q", op.Op)
		}
		again, err := ParseOp([]byte(op.String()))
		if err != nil || again.String() != op.String() {
			t.Fatalf("round trip of %s: %v", op, err)
		}
	})
}
