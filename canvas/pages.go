package canvas

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/casual-dev/casual/crdt"
)

// PageSpec describes a page to add. Route defaults to "/" plus a slug of
// the name (made unique); Position is among the pages.
type PageSpec struct {
	ID    string // optional; generated as page-XXXXXXXX when empty
	Name  string
	Route string
	Position
}

var routePattern = regexp.MustCompile(`^/[A-Za-z0-9/_:.-]{0,199}$`)

// AddPage adds a page and returns its id.
func AddPage(doc *crdt.Doc, actor Actor, spec PageSpec) (id string, err error) {
	err = edit(doc, actor, func(p *plan) error {
		id, err = p.addPage(spec)
		return err
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

func (p *plan) addPage(spec PageSpec) (string, error) {
	id := spec.ID
	if id == "" {
		id = newID("page", p.a.pages, p.actor.Rand)
	} else if err := checkID("page", id); err != nil {
		return "", err
	} else if p.a.pages[id] != nil {
		return "", errf(ErrDuplicateID, "page %q", id)
	}
	if err := checkPageName(spec.Name); err != nil {
		return "", err
	}
	route := spec.Route
	if route == "" {
		route = p.freeRoute(spec.Name)
	} else if err := p.checkRoute(id, route); err != nil {
		return "", err
	}
	pl, err := place(pageSiblings(p.a.tree().Pages), "", spec.Position, p.actor.Rand)
	if err != nil {
		return "", err
	}
	if err := p.set([]any{"pages", id}, map[string]any{"name": spec.Name, "route": route, "index": pl.key}); err != nil {
		return "", err
	}
	return id, p.rebalancePages(pl.rebalance)
}

// RenamePage changes a page's name and/or route; an empty argument keeps
// the current value.
func RenamePage(doc *crdt.Doc, actor Actor, id, name, route string) error {
	return edit(doc, actor, func(p *plan) error {
		if p.a.pages[id] == nil {
			return errf(ErrUnknownPage, "%q", id)
		}
		if name == "" && route == "" {
			return errf(ErrInvalidPage, "rename %s: give a name or a route", id)
		}
		if name != "" {
			if err := checkPageName(name); err != nil {
				return err
			}
			if err := p.set([]any{"pages", id, "name"}, name); err != nil {
				return err
			}
		}
		if route != "" {
			if err := p.checkRoute(id, route); err != nil {
				return err
			}
			return p.set([]any{"pages", id, "route"}, route)
		}
		return nil
	})
}

// ReorderPage moves a page among the pages.
func ReorderPage(doc *crdt.Doc, actor Actor, id string, pos Position) error {
	return edit(doc, actor, func(p *plan) error {
		if p.a.pages[id] == nil {
			return errf(ErrUnknownPage, "%q", id)
		}
		pl, err := place(pageSiblings(p.a.tree().Pages), id, pos, p.actor.Rand)
		if err != nil {
			return err
		}
		if err := p.set([]any{"pages", id, "index"}, pl.key); err != nil {
			return err
		}
		return p.rebalancePages(pl.rebalance)
	})
}

// DeletePage deletes a page together with every component shown on it
// (moving them elsewhere is a separate, explicit MoveComponent; one undo
// restores the page and its components). The last page cannot be deleted.
func DeletePage(doc *crdt.Doc, actor Actor, id string) error {
	return edit(doc, actor, func(p *plan) error {
		t := p.a.tree()
		pg := t.Page(id)
		if pg == nil || p.a.pages[id] == nil {
			return errf(ErrUnknownPage, "%q", id)
		}
		if len(p.a.pages) == 1 {
			return errf(ErrLastPage, "%s", id)
		}
		for _, root := range pg.Children {
			for _, d := range root.descendants() {
				if err := p.del([]any{"components", d.ID}); err != nil {
					return err
				}
			}
		}
		return p.del([]any{"pages", id})
	})
}

func (p *plan) rebalancePages(keys map[string]string) error {
	for _, id := range sortedKeys(keys) {
		if err := p.set([]any{"pages", id, "index"}, keys[id]); err != nil {
			return err
		}
	}
	return nil
}

func checkPageName(name string) error {
	if name == "" || !validText(name, 100) || strings.ContainsAny(name, "\n\t") {
		return errf(ErrInvalidPage, "name %q: want 1-100 bytes on one line", truncate(name, 120))
	}
	return nil
}

// checkRoute requires a well-formed route not used by another page.
func (p *plan) checkRoute(id, route string) error {
	if !routePattern.MatchString(route) || strings.Contains(route, "//") {
		return errf(ErrInvalidPage, "route %q: want /path of A-Z a-z 0-9 / _ : . -", truncate(route, 120))
	}
	for other, m := range p.a.pages {
		if other != id && getString(m, "route") == route {
			return errf(ErrInvalidPage, "route %q is already used by page %s", route, other)
		}
	}
	return nil
}

// freeRoute derives an unused route from a page name.
func (p *plan) freeRoute(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	slug := strings.Trim(b.String(), "-")
	if len(slug) > 60 {
		slug = slug[:60]
	}
	route := "/" + slug
	for i := 2; p.checkRoute("", route) != nil; i++ {
		route = "/" + slug + "-" + strconv.Itoa(i)
		if slug == "" {
			route = "/page-" + strconv.Itoa(i)
		}
	}
	return route
}
