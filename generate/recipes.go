package generate

import "github.com/casual-dev/casual/canvas"

// This file is the planner's data: the requests it knows and the op
// streams it answers them with. Order matters: the first recipe with a
// matching keyword wins ("sign up form" is a signup flow, not a login).
// Handlers get the clicked or changed component's props as event.props
// and the new value as event.value; form submits get the fields as input.

func recipes() []recipe {
	return []recipe{
		{id: "signup", title: "Sign-up flow", ops: signupOps,
			keywords: []string{"sign up", "signup", "register", "registration", "onboarding", "create account", "create an account"},
			intent: Intent{Goal: "Let new users create an account in a few steps.",
				Features: []string{"account step with email and password", "profile step with name and terms", "validation with error messages", "confirmation step"},
				Data:     []string{"signup draft (email, password, name, terms)", "current step", "user"}, Integrations: []string{}, Complexity: "medium"}},
		{id: "login", title: "Login", ops: loginOps,
			keywords: []string{"login", "log in", "sign in", "signin", "authentication"},
			intent: Intent{Goal: "Let existing users sign in.",
				Features: []string{"email and password fields", "remember me", "validation with an error message", "forgot password link"},
				Data:     []string{"user", "login error"}, Integrations: []string{}, Complexity: "low"}},
		{id: "todo", title: "Todo list", ops: todoOps,
			keywords: []string{"todo", "todos", "to do", "task list", "tasks", "checklist"},
			intent: Intent{Goal: "Keep track of things to do.",
				Features: []string{"add a task", "tick tasks off", "count what is left", "clear completed tasks"},
				Data:     []string{"todos (title, done)", "draft"}, Integrations: []string{}, Complexity: "low"}},
		{id: "contact", title: "Contact form", ops: contactOps,
			keywords: []string{"contact", "get in touch", "feedback form", "enquiry", "inquiry"},
			intent: Intent{Goal: "Let visitors send a message.",
				Features: []string{"name, email, topic and message fields", "validation", "confirmation message"},
				Data:     []string{"messages (name, email, topic, message)", "status"}, Integrations: []string{}, Complexity: "low"}},
		{id: "calculator", title: "Calculator", ops: calculatorOps,
			keywords: []string{"calculator", "calc"},
			intent: Intent{Goal: "Do basic arithmetic.",
				Features: []string{"display", "digit and operator keys", "equals with operator precedence", "clear"},
				Data:     []string{"display"}, Integrations: []string{}, Complexity: "medium"}},
		{id: "counter", title: "Counter", ops: counterOps,
			keywords: []string{"counter", "tally", "click counter"},
			intent: Intent{Goal: "Count up and down.",
				Features: []string{"show the count", "increment", "decrement", "reset"},
				Data:     []string{"count"}, Integrations: []string{}, Complexity: "low"}},
		{id: "dashboard", title: "Dashboard", ops: dashboardOps,
			keywords: []string{"dashboard", "chart", "charts", "analytics", "metrics", "kpi", "kpis"},
			intent: Intent{Goal: "Show key numbers and trends at a glance.",
				Features: []string{"period picker", "three headline stats", "line chart of signups", "table of recent signups"},
				Data:     []string{"stats", "signups per day", "recent signups"}, Integrations: []string{}, Complexity: "medium"}},
		{id: "landing", title: "Landing page", ops: landingOps,
			keywords: []string{"landing", "homepage", "home page", "marketing", "hero", "product page"},
			intent: Intent{Goal: "Present a product and collect sign-ups.",
				Features: []string{"hero with call to action", "three feature cards", "newsletter sign-up", "footer"},
				Data:     []string{"subscribers"}, Integrations: []string{}, Complexity: "low"}},
		{id: "table", title: "Records", ops: tableOps,
			keywords: []string{"table", "tables", "records", "record", "crud", "inventory", "spreadsheet", "database", "data grid"},
			intent: Intent{Goal: "Browse, search and add records.",
				Features: []string{"table of records", "search", "add a record in a dialog"},
				Data:     []string{"records (name, email, role)", "search"}, Integrations: []string{}, Complexity: "medium"}},
		{id: "settings", title: "Settings", ops: settingsOps,
			keywords: []string{"settings", "preferences", "preference", "configuration"},
			intent: Intent{Goal: "Let users change their profile and preferences.",
				Features: []string{"profile fields", "dark mode and notification switches", "language", "save", "danger zone"},
				Data:     []string{"settings"}, Integrations: []string{}, Complexity: "low"}},
	}
}

func todoOps() []canvas.Op {
	return []canvas.Op{
		create("todo-app", "card", "", "title", "Todo list"),
		withLayout(create("todo-add-row", "stack", "todo-app"), "direction", "row", "gap", 8.0),
		create("todo-draft", "input", "todo-add-row", "placeholder", "What needs doing?", "name", "draft"),
		create("todo-add", "button", "todo-add-row", "label", "Add"),
		create("todo-items", "list", "todo-app", "emptyText", "Nothing to do yet"),
		create("todo-item", "checkbox", "todo-items"),
		withLayout(create("todo-footer", "stack", "todo-app"), "direction", "row", "justify", "between"),
		create("todo-remaining", "text", "todo-footer", "text", "0 left", "variant", "muted"),
		create("todo-clear", "button", "todo-footer", "label", "Clear completed", "variant", "ghost", "size", "sm"),
		handler("setTodoDraft", "export default function ({ state, event }) {\n  state.draft = event.value;\n}\n"),
		handler("addTodo", "export default function ({ state }) {\n  const title = (state.draft || \"\").trim();\n  if (!title) return;\n  state.todos = [...(state.todos || []), { title, done: false }];\n  state.draft = \"\";\n}\n"),
		handler("toggleTodo", "export default function ({ state, event }) {\n  const todo = (state.todos || [])[event.index];\n  if (todo) todo.done = !todo.done;\n}\n"),
		handler("clearDone", "export default function ({ state }) {\n  state.todos = (state.todos || []).filter((t) => !t.done);\n}\n"),
		bind("todo-draft", "value", "state.draft || ''"),
		bind("todo-items", "items", "state.todos || []"),
		bind("todo-item", "label", "item.title"),
		bind("todo-item", "checked", "item.done"),
		bind("todo-remaining", "text", "`${(state.todos || []).filter((t) => !t.done).length} left`"),
		on("todo-draft", "change", "setTodoDraft"),
		on("todo-add", "click", "addTodo"),
		on("todo-item", "change", "toggleTodo"),
		on("todo-clear", "click", "clearDone"),
	}
}

func loginOps() []canvas.Op {
	return []canvas.Op{
		withLayout(create("login-card", "card", "", "title", "Sign in", "subtitle", "Welcome back"), "w", 400.0),
		create("login-form", "form", "login-card", "submitLabel", "Sign in"),
		create("login-email", "input", "login-form", "label", "Email", "name", "email", "kind", "email", "placeholder", "you@example.com", "required", true),
		create("login-password", "input", "login-form", "label", "Password", "name", "password", "kind", "password", "required", true),
		create("login-remember", "checkbox", "login-form", "label", "Remember me", "name", "remember"),
		create("login-submit", "button", "login-form", "label", "Sign in", "type", "submit"),
		create("login-error", "text", "login-card", "text", "", "variant", "muted"),
		create("login-forgot", "link", "login-card", "text", "Forgot your password?", "href", "/forgot-password"),
		handler("signIn", "export default function ({ state, input }) {\n  if (!input.email || !input.email.includes(\"@\")) {\n    state.loginError = \"Enter a valid email address.\";\n    return;\n  }\n  if (!input.password || input.password.length < 8) {\n    state.loginError = \"Passwords have at least 8 characters.\";\n    return;\n  }\n  state.loginError = \"\";\n  state.user = { email: input.email, remember: !!input.remember };\n}\n"),
		on("login-form", "submit", "signIn"),
		bind("login-error", "text", "state.loginError || ''"),
	}
}

func contactOps() []canvas.Op {
	return []canvas.Op{
		create("contact-title", "heading", "", "text", "Contact us", "level", 1.0),
		create("contact-intro", "text", "", "text", "Send us a message and we will get back to you within a day.", "variant", "lead"),
		create("contact-form", "form", "", "submitLabel", "Send", "resetOnSubmit", true),
		create("contact-name", "input", "contact-form", "label", "Name", "name", "name", "required", true),
		create("contact-email", "input", "contact-form", "label", "Email", "name", "email", "kind", "email", "required", true),
		create("contact-topic", "select", "contact-form", "label", "Topic", "name", "topic", "options", list("General", "Support", "Sales"), "value", "General"),
		create("contact-message", "textarea", "contact-form", "label", "Message", "name", "message", "rows", 5.0, "required", true),
		create("contact-send", "button", "contact-form", "label", "Send message", "type", "submit"),
		create("contact-status", "text", "", "text", "", "variant", "muted"),
		handler("sendMessage", "export default function ({ state, input }) {\n  if (!input.email || !input.email.includes(\"@\")) {\n    state.contactStatus = \"Please enter a valid email address.\";\n    return;\n  }\n  state.messages = [...(state.messages || []), { ...input, at: new Date().toISOString() }];\n  state.contactStatus = `Thanks, ${input.name}! We got your message.`;\n}\n"),
		on("contact-form", "submit", "sendMessage"),
		bind("contact-status", "text", "state.contactStatus || ''"),
	}
}

func counterOps() []canvas.Op {
	return []canvas.Op{
		create("counter-card", "card", "", "title", "Counter"),
		create("counter-value", "stat", "counter-card", "label", "Count", "value", "0"),
		withLayout(create("counter-buttons", "stack", "counter-card"), "direction", "row", "gap", 8.0),
		create("counter-decrement", "button", "counter-buttons", "label", "−", "variant", "secondary"),
		create("counter-increment", "button", "counter-buttons", "label", "+"),
		create("counter-reset", "button", "counter-buttons", "label", "Reset", "variant", "ghost"),
		handler("increment", "export default function ({ state }) {\n  state.count = (state.count || 0) + 1;\n}\n"),
		handler("decrement", "export default function ({ state }) {\n  state.count = (state.count || 0) - 1;\n}\n"),
		handler("resetCount", "export default function ({ state }) {\n  state.count = 0;\n}\n"),
		bind("counter-value", "value", "String(state.count || 0)"),
		on("counter-increment", "click", "increment"),
		on("counter-decrement", "click", "decrement"),
		on("counter-reset", "click", "resetCount"),
	}
}

const calculatorSource = `export default function ({ state, event }) {
  const key = event.props.label;
  const display = state.display || "0";
  if (key === "C") {
    state.display = "0";
    return;
  }
  if (key === "=") {
    state.display = String(calculate(display));
    return;
  }
  state.display = display === "0" || display === "Error" ? key : display + key;
}

// calculate evaluates digits and + − × ÷, with × and ÷ first.
function calculate(expr) {
  const parts = expr.split(/([+−×÷])/).filter((p) => p !== "");
  const terms = [Number(parts[0])];
  const ops = [];
  for (let i = 1; i < parts.length; i += 2) {
    const op = parts[i];
    const n = Number(parts[i + 1] || 0);
    if (op === "×") terms.push(terms.pop() * n);
    else if (op === "÷") terms.push(terms.pop() / n);
    else {
      ops.push(op);
      terms.push(n);
    }
  }
  const result = terms.reduce((acc, n, i) => (i === 0 ? n : ops[i - 1] === "+" ? acc + n : acc - n));
  return Number.isFinite(result) ? result : "Error";
}
`

func calculatorOps() []canvas.Op {
	ops := []canvas.Op{
		withLayout(create("calc", "card", "", "title", "Calculator"), "w", 320.0),
		create("calc-display", "input", "calc", "name", "display", "value", "0", "disabled", true),
		withLayout(create("calc-keys", "grid", "calc"), "columns", 4.0, "gap", 8.0),
	}
	keys := []struct{ id, label, variant string }{
		{"calc-7", "7", ""}, {"calc-8", "8", ""}, {"calc-9", "9", ""}, {"calc-divide", "÷", "secondary"},
		{"calc-4", "4", ""}, {"calc-5", "5", ""}, {"calc-6", "6", ""}, {"calc-multiply", "×", "secondary"},
		{"calc-1", "1", ""}, {"calc-2", "2", ""}, {"calc-3", "3", ""}, {"calc-subtract", "−", "secondary"},
		{"calc-0", "0", ""}, {"calc-dot", ".", ""}, {"calc-equals", "=", "primary"}, {"calc-add", "+", "secondary"},
		{"calc-clear", "C", "danger"},
	}
	for _, k := range keys {
		variant := k.variant
		if variant == "" {
			variant = "outline"
		}
		ops = append(ops, create(k.id, "button", "calc-keys", "label", k.label, "variant", variant))
	}
	ops = append(ops, handler("pressKey", calculatorSource), bind("calc-display", "value", "state.display || '0'"))
	for _, k := range keys {
		ops = append(ops, on(k.id, "click", "pressKey"))
	}
	return ops
}

func dashboardOps() []canvas.Op {
	day := func(d string, n float64) any { return map[string]any{"day": d, "signups": n} }
	person := func(name, plan, joined string) any {
		return map[string]any{"name": name, "plan": plan, "joined": joined}
	}
	return []canvas.Op{
		withLayout(create("dash-header", "stack", ""), "direction", "row", "justify", "between", "align", "center"),
		create("dash-title", "heading", "dash-header", "text", "Dashboard", "level", 1.0),
		create("dash-period", "select", "dash-header", "name", "period", "options", list("Last 7 days", "Last 30 days", "Last 90 days"), "value", "Last 7 days"),
		withLayout(create("dash-stats", "grid", ""), "columns", 3.0, "gap", 16.0),
		create("dash-users", "stat", "dash-stats", "label", "Active users", "value", "1,284", "delta", "+12%", "trend", "up"),
		create("dash-revenue", "stat", "dash-stats", "label", "Revenue", "value", "$24.5k", "delta", "+8%", "trend", "up"),
		create("dash-churn", "stat", "dash-stats", "label", "Churn", "value", "2.1%", "delta", "-0.3%", "trend", "down"),
		create("dash-chart-card", "card", "", "title", "Signups"),
		create("dash-chart", "chart", "dash-chart-card", "kind", "line", "xKey", "day", "yKey", "signups",
			"data", list(day("Mon", 12), day("Tue", 19), day("Wed", 15), day("Thu", 22), day("Fri", 28), day("Sat", 17), day("Sun", 14))),
		create("dash-table-card", "card", "", "title", "Recent signups"),
		create("dash-table", "table", "dash-table-card", "columns", list("name", "plan", "joined"), "pageSize", 5.0,
			"rows", list(person("Ada Lovelace", "Pro", "2024-05-02"), person("Grace Hopper", "Team", "2024-05-01"), person("Alan Turing", "Free", "2024-04-29"))),
		handler("setPeriod", "export default function ({ state, event }) {\n  state.period = event.value;\n}\n"),
		bind("dash-period", "value", "state.period || 'Last 7 days'"),
		on("dash-period", "change", "setPeriod"),
	}
}

func landingOps() []canvas.Op {
	feature := func(n, title, icon, text string) []canvas.Op {
		id := "landing-feature-" + n
		return []canvas.Op{
			create(id, "card", "landing-features", "title", title),
			create(id+"-icon", "icon", id, "name", icon, "size", 24.0),
			create(id+"-text", "text", id, "text", text),
		}
	}
	ops := []canvas.Op{
		withLayout(create("landing-hero", "container", "", "as", "header"), "align", "center", "gap", 16.0),
		create("landing-headline", "heading", "landing-hero", "text", "Launch your idea today", "level", 1.0),
		create("landing-tagline", "text", "landing-hero", "text", "Everything you need to go from prototype to product, in one place.", "variant", "lead"),
		withLayout(create("landing-ctas", "stack", "landing-hero"), "direction", "row", "gap", 12.0, "justify", "center"),
		create("landing-cta", "button", "landing-ctas", "label", "Get started", "size", "lg"),
		create("landing-more", "link", "landing-ctas", "text", "Learn more", "href", "#features"),
		withLayout(create("landing-features", "grid", ""), "columns", 3.0, "gap", 24.0),
	}
	ops = append(ops, feature("1", "Fast", "zap", "Pages load in an instant, everywhere.")...)
	ops = append(ops, feature("2", "Collaborative", "users", "Your whole team edits together, live.")...)
	ops = append(ops, feature("3", "Secure", "shield", "Your data stays yours, encrypted at rest.")...)
	return append(ops,
		create("landing-newsletter", "container", "", "as", "section"),
		create("landing-newsletter-title", "heading", "landing-newsletter", "text", "Stay in the loop", "level", 2.0),
		create("landing-newsletter-form", "form", "landing-newsletter", "submitLabel", "Subscribe", "resetOnSubmit", true),
		create("landing-email", "input", "landing-newsletter-form", "label", "Email", "name", "email", "kind", "email", "placeholder", "you@example.com", "required", true),
		create("landing-subscribe", "button", "landing-newsletter-form", "label", "Subscribe", "type", "submit"),
		create("landing-footer", "text", "", "text", "© Your company", "variant", "caption"),
		handler("subscribe", "export default function ({ state, input }) {\n  state.subscribers = [...(state.subscribers || []), input.email];\n}\n"),
		on("landing-newsletter-form", "submit", "subscribe"),
	)
}

func tableOps() []canvas.Op {
	return []canvas.Op{
		create("records-title", "heading", "", "text", "Records", "level", 1.0),
		withLayout(create("records-toolbar", "stack", ""), "direction", "row", "gap", 8.0, "align", "center"),
		create("records-search", "input", "records-toolbar", "name", "search", "kind", "search", "placeholder", "Search records"),
		create("records-add", "button", "records-toolbar", "label", "Add record"),
		create("records-table", "table", "", "columns", list("name", "email", "role"), "striped", true, "pageSize", 10.0),
		create("records-dialog", "modal", "", "title", "New record"),
		create("records-form", "form", "records-dialog", "submitLabel", "Save", "resetOnSubmit", true),
		create("records-name", "input", "records-form", "label", "Name", "name", "name", "required", true),
		create("records-email", "input", "records-form", "label", "Email", "name", "email", "kind", "email"),
		create("records-role", "select", "records-form", "label", "Role", "name", "role", "options", list("Admin", "Editor", "Viewer"), "value", "Viewer"),
		create("records-save", "button", "records-form", "label", "Save", "type", "submit"),
		handler("setSearch", "export default function ({ state, event }) {\n  state.search = event.value;\n}\n"),
		handler("openRecordForm", "export default function ({ state }) {\n  state.recordFormOpen = true;\n}\n"),
		handler("closeRecordForm", "export default function ({ state }) {\n  state.recordFormOpen = false;\n}\n"),
		handler("addRecord", "export default function ({ state, input }) {\n  state.records = [...(state.records || []), { name: input.name, email: input.email, role: input.role }];\n  state.recordFormOpen = false;\n}\n"),
		bind("records-search", "value", "state.search || ''"),
		bind("records-table", "rows", "(state.records || []).filter((r) => !state.search || JSON.stringify(r).toLowerCase().includes(state.search.toLowerCase()))"),
		bind("records-dialog", "open", "!!state.recordFormOpen"),
		on("records-search", "change", "setSearch"),
		on("records-add", "click", "openRecordForm"),
		on("records-dialog", "close", "closeRecordForm"),
		on("records-form", "submit", "addRecord"),
	}
}

func settingsOps() []canvas.Op {
	return []canvas.Op{
		create("settings-title", "heading", "", "text", "Settings", "level", 1.0),
		create("settings-form", "form", "", "submitLabel", "Save changes"),
		create("settings-profile", "card", "settings-form", "title", "Profile"),
		create("settings-avatar", "avatar", "settings-profile", "name", "Your name", "size", "lg"),
		create("settings-name", "input", "settings-profile", "label", "Display name", "name", "displayName"),
		create("settings-email", "input", "settings-profile", "label", "Email", "name", "email", "kind", "email"),
		create("settings-preferences", "card", "settings-form", "title", "Preferences"),
		create("settings-dark", "switch", "settings-preferences", "label", "Dark mode", "name", "darkMode"),
		create("settings-notifications", "switch", "settings-preferences", "label", "Email notifications", "name", "notifications", "checked", true),
		create("settings-language", "select", "settings-preferences", "label", "Language", "name", "language", "options", list("English", "Français", "Deutsch", "Español"), "value", "English"),
		create("settings-save", "button", "settings-form", "label", "Save changes", "type", "submit"),
		create("settings-saved", "text", "", "text", "", "variant", "muted"),
		create("settings-danger", "card", "", "title", "Danger zone"),
		create("settings-delete", "button", "settings-danger", "label", "Delete account", "variant", "danger"),
		handler("saveSettings", "export default function ({ state, input }) {\n  state.settings = { ...(state.settings || {}), ...input };\n  state.settingsSaved = true;\n}\n"),
		handler("deleteAccount", "export default function ({ state }) {\n  state.deleteRequested = true;\n}\n"),
		on("settings-form", "submit", "saveSettings"),
		on("settings-delete", "click", "deleteAccount"),
		bind("settings-saved", "text", "state.settingsSaved ? 'Saved.' : ''"),
	}
}

func signupOps() []canvas.Op {
	return []canvas.Op{
		withLayout(create("signup-card", "card", "", "title", "Create your account"), "w", 420.0),
		create("signup-steps", "tabs", "signup-card", "tabs", list("Account", "Profile", "Done")),
		create("signup-account", "stack", "signup-steps"),
		create("signup-email", "input", "signup-account", "label", "Email", "name", "email", "kind", "email", "required", true),
		create("signup-password", "input", "signup-account", "label", "Password", "name", "password", "kind", "password", "required", true),
		create("signup-next", "button", "signup-account", "label", "Continue"),
		create("signup-profile", "stack", "signup-steps"),
		create("signup-name", "input", "signup-profile", "label", "Full name", "name", "name", "required", true),
		create("signup-terms", "checkbox", "signup-profile", "label", "I accept the terms", "name", "terms"),
		withLayout(create("signup-actions", "stack", "signup-profile"), "direction", "row", "gap", 8.0),
		create("signup-back", "button", "signup-actions", "label", "Back", "variant", "secondary"),
		create("signup-create", "button", "signup-actions", "label", "Create account"),
		create("signup-done", "stack", "signup-steps"),
		create("signup-welcome", "heading", "signup-done", "text", "You're all set", "level", 2.0),
		create("signup-welcome-text", "text", "signup-done", "text", "Check your inbox to confirm your email address."),
		create("signup-error", "text", "signup-card", "text", "", "variant", "muted"),
		handler("signupField", "export default function ({ state, event }) {\n  state.signup = { ...(state.signup || {}), [event.props.name]: event.value };\n}\n"),
		handler("signupNext", "export default function ({ state }) {\n  const s = state.signup || {};\n  if (!s.email || !s.email.includes(\"@\")) {\n    state.signupError = \"Enter a valid email address.\";\n    return;\n  }\n  if (!s.password || s.password.length < 8) {\n    state.signupError = \"Use at least 8 characters for your password.\";\n    return;\n  }\n  state.signupError = \"\";\n  state.signupStep = 1;\n}\n"),
		handler("signupBack", "export default function ({ state }) {\n  state.signupStep = 0;\n}\n"),
		handler("signupCreate", "export default function ({ state }) {\n  const s = state.signup || {};\n  if (!s.name || !s.terms) {\n    state.signupError = \"Enter your name and accept the terms.\";\n    return;\n  }\n  state.signupError = \"\";\n  state.user = { email: s.email, name: s.name };\n  state.signupStep = 2;\n}\n"),
		bind("signup-steps", "active", "state.signupStep || 0"),
		bind("signup-error", "text", "state.signupError || ''"),
		on("signup-email", "change", "signupField"),
		on("signup-password", "change", "signupField"),
		on("signup-name", "change", "signupField"),
		on("signup-terms", "change", "signupField"),
		on("signup-next", "click", "signupNext"),
		on("signup-back", "click", "signupBack"),
		on("signup-create", "click", "signupCreate"),
	}
}
