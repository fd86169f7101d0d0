package canvas

// This file is the registry's data: every component type, and the keys a
// layout or style may hold.

func componentTypes() []ComponentType {
	return []ComponentType{
		// layout
		box("container", "A generic box that groups children.", column(8), enum("as", "div", "div", "section", "header", "footer", "main", "nav")),
		box("stack", "Lays children out in a row or a column.", column(8)),
		box("grid", "Lays children out in columns.", obj("columns", 2.0, "gap", 16.0)),
		box("card", "A raised panel with an optional title.", column(8),
			str("title", ""), str("subtitle", ""), boolean("elevated", true)),
		withEvents(box("tabs", "Shows one child at a time, chosen by tab labels.", column(0),
			array("tabs", []any{"Tab 1", "Tab 2"}), num("active", 0, ptr(0), nil)), "change"),
		withEvents(box("modal", "A dialog over the page, shown while open.", column(12),
			str("title", "Dialog"), boolean("open", false), boolean("dismissible", true)), "close"),
		leaf("layout", "divider", "A horizontal or vertical rule.", nil,
			enum("orientation", "horizontal", "horizontal", "vertical"), str("label", "")),
		leaf("layout", "spacer", "Empty space.", nil, num("size", 16, ptr(0), ptr(1000))),

		// content
		leaf("content", "text", "A paragraph of text.", nil,
			required(str("text", "Text")), enum("variant", "body", "body", "caption", "muted", "lead"), boolean("truncate", false)),
		leaf("content", "heading", "A section title.", nil,
			required(str("text", "Heading")), num("level", 2, ptr(1), ptr(6))),
		leaf("content", "markdown", "Rich text written in Markdown.", nil, required(str("source", ""))),
		withEvents(leaf("content", "image", "A picture.", obj("w", 320.0, "h", 200.0),
			PropSchema{Name: "src", Type: TypeURL, Required: true}, str("alt", ""),
			enum("fit", "cover", "cover", "contain", "fill")), "click"),
		withEvents(leaf("content", "icon", "A named icon.", nil,
			required(str("name", "star")), num("size", 16, ptr(4), ptr(512)), color("color")), "click"),
		withEvents(leaf("content", "link", "A hyperlink.", nil,
			required(str("text", "Link")), required(PropSchema{Name: "href", Type: TypeURL, Default: "#"}),
			boolean("newTab", false)), "click"),
		withEvents(leaf("content", "badge", "A small status label.", nil,
			required(str("text", "Badge")), tone("tone")), "click"),
		withEvents(leaf("content", "avatar", "A user picture or initials.", nil,
			PropSchema{Name: "src", Type: TypeURL}, str("name", ""), size()), "click"),
		leaf("content", "code", "A block of source code.", nil,
			required(str("source", "")), str("language", "text")),

		// inputs
		withEvents(leaf("inputs", "button", "A clickable button.", nil,
			required(str("label", "Button")),
			enum("variant", "primary", "primary", "secondary", "outline", "ghost", "danger"),
			size(), enum("type", "button", "button", "submit", "reset"), boolean("disabled", false)), "click"),
		input("input", "A single-line text field.",
			enum("kind", "text", "text", "email", "password", "number", "tel", "url", "search"),
			str("placeholder", ""), str("value", ""), boolean("required", false)),
		input("textarea", "A multi-line text field.",
			str("placeholder", ""), str("value", ""), num("rows", 3, ptr(1), ptr(100)), boolean("required", false)),
		input("select", "A drop-down choice.",
			array("options", []any{"Option 1", "Option 2"}), str("value", ""), str("placeholder", ""), boolean("required", false)),
		input("checkbox", "A box to tick.", boolean("checked", false)),
		input("radio", "A choice of one among options.", array("options", []any{"Option 1", "Option 2"}), str("value", "")),
		input("switch", "An on/off toggle.", boolean("checked", false)),
		input("slider", "A number picked on a track.",
			num("min", 0, nil, nil), num("max", 100, nil, nil), num("step", 1, ptr(0), nil), num("value", 50, nil, nil)),
		input("date", "A date picker.", str("value", ""), str("min", ""), str("max", ""), boolean("required", false)),
		input("file", "A file upload field.", str("accept", ""), boolean("multiple", false)),

		// data
		withEvents(leaf("data", "table", "Rows of data in columns.", obj("w", 640.0),
			array("columns", []any{}), array("rows", []any{}), boolean("striped", true), num("pageSize", 10, ptr(1), ptr(1000))), "rowClick"),
		withEvents(ComponentType{Type: "list", Category: "data", Container: true,
			Description:   "Repeats its children for each item; an empty list shows a message.",
			Props:         []PropSchema{array("items", []any{}), str("emptyText", "Nothing here yet")},
			DefaultLayout: column(4)}, "itemClick"),
		withEvents(leaf("data", "chart", "A bar, line, area or pie chart.", obj("w", 480.0, "h", 280.0),
			enum("kind", "bar", "bar", "line", "area", "pie"), array("data", []any{}),
			str("xKey", "x"), str("yKey", "y"), str("title", ""),
			PropSchema{Name: "options", Type: TypeJSON, Description: "extra chart options"}), "pointClick"),
		withEvents(ComponentType{Type: "form", Category: "data", Container: true,
			Description:   "Groups inputs and submits their values together.",
			Props:         []PropSchema{str("submitLabel", "Submit"), boolean("resetOnSubmit", false)},
			DefaultLayout: column(12)}, "submit"),
		leaf("data", "progress", "A progress bar.", nil,
			num("value", 0, ptr(0), ptr(100)), str("label", ""), tone("tone")),
		leaf("data", "stat", "A headline number with a label.", nil,
			required(str("label", "Metric")), required(str("value", "0")), str("delta", ""),
			enum("trend", "flat", "up", "down", "flat")),
	}
}

func layoutKeys() []PropSchema {
	return []PropSchema{
		num("x", 0, nil, nil), num("y", 0, nil, nil),
		num("w", 0, ptr(0), nil), num("h", 0, ptr(0), nil),
		enum("direction", "column", "row", "column"),
		num("gap", 0, ptr(0), ptr(1000)),
		enum("align", "stretch", "start", "center", "end", "stretch"),
		enum("justify", "start", "start", "center", "end", "between", "around", "evenly"),
		boolean("wrap", false),
		num("grow", 0, ptr(0), ptr(100)),
		num("columns", 1, ptr(1), ptr(24)),
	}
}

func styleKeys() []PropSchema {
	return []PropSchema{
		color("color"), color("background"), color("borderColor"),
		num("borderWidth", 0, ptr(0), ptr(100)), num("borderRadius", 0, ptr(0), ptr(1000)),
		num("padding", 0, ptr(0), ptr(1000)), num("margin", 0, ptr(-1000), ptr(1000)),
		num("fontSize", 16, ptr(1), ptr(400)),
		enum("fontWeight", "normal", "normal", "medium", "semibold", "bold"),
		str("fontFamily", ""),
		enum("textAlign", "left", "left", "center", "right"),
		num("opacity", 1, ptr(0), ptr(1)),
		enum("shadow", "none", "none", "sm", "md", "lg"),
	}
}

func box(typ, desc string, layout map[string]any, props ...PropSchema) ComponentType {
	return ComponentType{Type: typ, Category: "layout", Description: desc, Container: true, Props: props, DefaultLayout: layout}
}

func leaf(cat, typ, desc string, layout map[string]any, props ...PropSchema) ComponentType {
	return ComponentType{Type: typ, Category: cat, Description: desc, Props: props, DefaultLayout: layout}
}

// input is a form field: it has a label, a name it submits under, can be
// disabled, and fires change.
func input(typ, desc string, props ...PropSchema) ComponentType {
	base := []PropSchema{str("label", ""), str("name", ""), boolean("disabled", false)}
	return withEvents(leaf("inputs", typ, desc, nil, append(base, props...)...), "change")
}

func withEvents(t ComponentType, events ...string) ComponentType {
	t.Events = events
	return t
}

func column(gap float64) map[string]any { return obj("direction", "column", "gap", gap) }

func obj(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func str(name, def string) PropSchema {
	return PropSchema{Name: name, Type: TypeString, Default: def}
}

func num(name string, def float64, lo, hi *float64) PropSchema {
	return PropSchema{Name: name, Type: TypeNumber, Default: def, Min: lo, Max: hi}
}

func boolean(name string, def bool) PropSchema {
	return PropSchema{Name: name, Type: TypeBool, Default: def}
}

func enum(name, def string, values ...string) PropSchema {
	return PropSchema{Name: name, Type: TypeEnum, Default: def, Values: values}
}

func color(name string) PropSchema { return PropSchema{Name: name, Type: TypeColor} }

func array(name string, def []any) PropSchema {
	return PropSchema{Name: name, Type: TypeArray, Default: def}
}

func tone(name string) PropSchema {
	return enum(name, "neutral", "neutral", "info", "success", "warning", "danger")
}

func size() PropSchema { return enum("size", "md", "sm", "md", "lg") }

func required(p PropSchema) PropSchema {
	p.Required = true
	return p
}

func ptr(f float64) *float64 { return &f }
