package ui

import (
	"context"
	"fmt"

	"github.com/casual-dev/casual/canvas"
	"github.com/casual-dev/casual/crdt"
	"github.com/casual-dev/casual/rooms"
)

// RoomApps creates app documents in the rooms of a rooms.Manager: the new
// document is built by canvas.NewApp on the room's goroutine and stored
// before CreateApp returns, so a browser that opens it next finds it.
type RoomApps struct {
	Rooms *rooms.Manager
}

// CreateApp implements AppCreator.
func (a RoomApps) CreateApp(ctx context.Context, name, template string) (crdt.DocID, error) {
	id := crdt.NewDocID()
	room, err := a.Rooms.Acquire(ctx, id)
	if err != nil {
		return "", fmt.Errorf("open room %s: %w", id, err)
	}
	defer a.Rooms.Release(id)
	err = room.Do(ctx, func(doc *crdt.Doc) error {
		if err := canvas.NewApp(doc, name, template); err != nil {
			return err
		}
		_, _, err := doc.Commit("new app from template " + template)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create app %s: %w", id, err)
	}
	return id, nil
}
