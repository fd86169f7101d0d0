// Package canvas owns the app document: its schema (version 1, see
// DESIGN.md "The app document"), the component registry, the operations
// that edit an app (components, pages, bindings, handlers, theme), their
// flat JSON form streamed by the AI co-editor, fractional sibling indexes,
// tree materialization with deterministic cycle and orphan repair,
// per-actor undo, starter templates and whole-document validation.
//
// It is pure Go over package crdt: no network, no clocks except the
// creation time NewApp records. Every operation validates against the
// registry and the current document before it writes anything, and leaves
// its edits uncommitted so the caller decides how changes are grouped
// (d.Commit).
package canvas

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (wrapped with details) by operations. Check them
// with errors.Is.
var (
	ErrNotInitialized     = errors.New("document is not a canvas app")
	ErrAlreadyInitialized = errors.New("document is already a canvas app")
	ErrSchemaVersion      = errors.New("unsupported schema version")
	ErrUnknownTemplate    = errors.New("unknown template")
	ErrUnknownType        = errors.New("unknown component type")
	ErrUnknownComponent   = errors.New("unknown component")
	ErrUnknownPage        = errors.New("unknown page")
	ErrUnknownHandler     = errors.New("unknown handler")
	ErrInvalidID          = errors.New("invalid id")
	ErrDuplicateID        = errors.New("id already in use")
	ErrInvalidProp        = errors.New("invalid property")
	ErrInvalidPosition    = errors.New("invalid position")
	ErrCycle              = errors.New("move would create a cycle")
	ErrNotContainer       = errors.New("component cannot have children")
	ErrInvalidPage        = errors.New("invalid page")
	ErrLastPage           = errors.New("cannot delete the last page")
	ErrInvalidBinding     = errors.New("invalid binding")
	ErrInvalidEvent       = errors.New("invalid event")
	ErrInvalidHandler     = errors.New("invalid handler")
	ErrInvalidTheme       = errors.New("invalid theme token")
	ErrInvalidOp          = errors.New("invalid operation")
	ErrInvalidIndex       = errors.New("invalid fractional index")
	ErrCorruptDocument    = errors.New("malformed app document")
)

// PropError details an invalid property, layout or style value. It wraps
// ErrInvalidProp: errors.Is(err, ErrInvalidProp) holds, and errors.As
// recovers the details.
type PropError struct {
	Component string // component id, empty while creating without an id
	Type      string // component type
	Group     string // "props", "layout" or "style"
	Name      string // the property
	Reason    string
}

// Error describes the prop and why it is invalid.
func (e *PropError) Error() string {
	who := e.Type
	if e.Component != "" {
		who = fmt.Sprintf("%s %s", e.Type, e.Component)
	}
	return fmt.Sprintf("%v: %s %s.%s: %s", ErrInvalidProp, who, e.Group, e.Name, e.Reason)
}

// Unwrap returns ErrInvalidProp.
func (e *PropError) Unwrap() error { return ErrInvalidProp }

func errf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}
