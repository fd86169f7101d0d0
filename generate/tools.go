package generate

import (
	"reflect"
	"strings"

	openai "github.com/sashabaranov/go-openai"

	"github.com/casual-dev/casual/canvas"
)

// Besides JSON lines in its text, a model may send operations as tool
// calls: each canvas op is offered as a function named after it whose
// arguments are the op's other fields. A streamed call's arguments arrive
// in pieces, several calls interleaved by index; each call is applied the
// moment its arguments' JSON object closes, exactly like a completed line.

// opToolDescriptions say what each op does, for the model.
var opToolDescriptions = map[string]string{
	"create":        "Create a component of a registry type, appended to its parent (or the page) unless a position is given.",
	"move":          "Move a component to another parent, page or position.",
	"update":        "Write the given props, layout and style keys of a component (null unsets a key); other keys are left alone.",
	"delete":        "Delete a component and its children.",
	"setBinding":    "Bind a component prop to a JS expression over state (and item inside a list).",
	"unsetBinding":  "Remove a prop binding.",
	"bindEvent":     "Run a handler on one of the component type's events.",
	"unbindEvent":   "Remove an event binding.",
	"setHandler":    "Create or replace a handler: JS source 'export default function ({ state, event, input }) { ... }'.",
	"deleteHandler": "Delete a handler.",
	"addPage":       "Add a page.",
	"renamePage":    "Rename a page or change its route.",
	"reorderPage":   "Move a page among the pages.",
	"deletePage":    "Delete a page and its components.",
	"setTheme":      "Set theme tokens (null unsets one).",
}

// opFieldDescriptions describe the op fields whose name says too little.
var opFieldDescriptions = map[string]string{
	"id":      "component id: short, readable, kebab-case; new ones must be unused",
	"type":    "a component type of the registry",
	"page":    "page id; omitted: the first page",
	"parent":  "container component id; omitted: the page's root",
	"before":  "sibling id to go before",
	"after":   "sibling id to go after",
	"index":   "position among the siblings, from 0",
	"props":   "props of the component's type, with values of the listed types",
	"layout":  "layout keys of the registry",
	"style":   "style keys of the registry",
	"expr":    "JS expression over state",
	"event":   "one of the component type's events",
	"handler": "handler id",
	"name":    "handler: a JS identifier; page: its title",
	"lang":    `"js"`,
	"source":  "JS module source",
}

// opTools returns the canvas operations as function tools. Their
// parameters are derived from canvas.Op: each field's JSON type from its Go
// type, required fields from canvas.OpFields.
func opTools() []openai.Tool {
	types := make(map[string]string)
	rt := reflect.TypeFor[canvas.Op]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.String:
			types[name] = "string"
		case reflect.Int, reflect.Int64:
			types[name] = "integer"
		case reflect.Map:
			types[name] = "object"
		}
	}
	var tools []openai.Tool
	for _, op := range canvas.OpNames() {
		fields, required, _ := canvas.OpFields(op)
		props := make(map[string]any, len(fields))
		for _, f := range fields {
			p := map[string]any{"type": types[f]}
			if d := opFieldDescriptions[f]; d != "" {
				p["description"] = d
			}
			props[f] = p
		}
		if required == nil {
			required = []string{}
		}
		desc := opToolDescriptions[op]
		if desc == "" {
			desc = "The " + op + " operation."
		}
		tools = append(tools, openai.Tool{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{
			Name: op, Description: desc,
			Parameters: map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false},
		}})
	}
	return tools
}

// toolCall is one operation sent as a tool call: a function name and one
// JSON object of arguments.
type toolCall struct {
	name string
	args string
	// incomplete: the stream ended before the arguments formed a JSON
	// object (cut off, or not an object at all).
	incomplete bool
	tooLong    bool // the arguments grew past maxLineBytes
}

// toolCalls assembles the tool calls of one stream from their deltas.
type toolCalls struct {
	emit  func(toolCall) error
	calls map[int]*pendingCall
	order []int          // keys, first seen first
	byID  map[string]int // calls sent without index (some servers)
	last  int            // key of the call the last delta extended
}

type pendingCall struct {
	name     string
	buf      strings.Builder // arguments since the last complete object
	scan     objectScanner
	dropping bool // the arguments grew past maxLineBytes: ignore the rest
	emitted  bool // at least one object was handed over
}

func newToolCalls(emit func(toolCall) error) *toolCalls {
	return &toolCalls{emit: emit, calls: make(map[int]*pendingCall), byID: make(map[string]int), last: -1}
}

// key finds the call a delta belongs to: its index; without one (some
// OpenAI-compatible servers), its id, or else the call before it.
func (tc *toolCalls) key(d openai.ToolCall) int {
	switch {
	case d.Index != nil:
		return *d.Index
	case d.ID != "":
		if k, ok := tc.byID[d.ID]; ok {
			return k
		}
		k := -2 - len(tc.byID) // negative: never an index, nor -1
		tc.byID[d.ID] = k
		return k
	}
	return tc.last // a continuation: -1 for a first call without index or id
}

// feed adds a chunk's tool call deltas, emitting each call whose
// arguments complete a JSON object.
func (tc *toolCalls) feed(deltas []openai.ToolCall) error {
	for _, d := range deltas {
		k := tc.key(d)
		tc.last = k
		c := tc.calls[k]
		if c == nil {
			c = &pendingCall{}
			tc.calls[k] = c
			tc.order = append(tc.order, k)
		}
		if d.Function.Name != "" {
			c.name += d.Function.Name // sent whole in practice; concatenated as the arguments are
		}
		if err := tc.add(c, d.Function.Arguments); err != nil {
			return err
		}
	}
	return nil
}

// add appends a piece of a call's arguments. A model that puts several
// objects in one call's arguments gets each applied as one op.
func (tc *toolCalls) add(c *pendingCall, piece string) error {
	for piece != "" && !c.dropping {
		n, closed := c.scan.feed(piece)
		if c.buf.Len()+n > maxLineBytes {
			c.buf.Reset()
			c.dropping = true
			return tc.emit(toolCall{name: c.name, tooLong: true})
		}
		c.buf.WriteString(piece[:n])
		piece = piece[n:]
		if closed {
			args := strings.TrimSpace(c.buf.String())
			c.buf.Reset()
			c.scan = objectScanner{}
			c.emitted = true
			if err := tc.emit(toolCall{name: c.name, args: args}); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush reports the calls whose arguments were left unfinished (or never
// sent) when the stream ended normally.
func (tc *toolCalls) flush() error {
	for _, k := range tc.order {
		c := tc.calls[k]
		if rest := strings.TrimSpace(c.buf.String()); !c.dropping && (rest != "" || c.scan.broken || !c.emitted) {
			c.buf.Reset()
			if err := tc.emit(toolCall{name: c.name, args: rest, incomplete: true}); err != nil {
				return err
			}
		}
	}
	return nil
}

// objectScanner finds where a JSON object that arrives in pieces closes,
// without parsing it: it tracks nesting outside strings.
type objectScanner struct {
	started, inString, escaped bool
	depth                      int
	broken                     bool // the text does not start with '{'
}

// feed scans piece and returns how many of its bytes belong to the
// current object, and whether the object closed at the last of them.
func (s *objectScanner) feed(piece string) (n int, closed bool) {
	if s.broken {
		return len(piece), false
	}
	for i := 0; i < len(piece); i++ {
		c := piece[i]
		switch {
		case !s.started:
			switch c {
			case ' ', '\t', '\r', '\n':
			case '{':
				s.started, s.depth = true, 1
			default:
				s.broken = true
				return len(piece), false
			}
		case s.inString:
			switch {
			case s.escaped:
				s.escaped = false
			case c == '\\':
				s.escaped = true
			case c == '"':
				s.inString = false
			}
		case c == '"':
			s.inString = true
		case c == '{' || c == '[':
			s.depth++
		case c == '}' || c == ']':
			s.depth--
			if s.depth == 0 {
				return i + 1, true
			}
		}
	}
	return len(piece), false
}
