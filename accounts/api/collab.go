package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/crdt"
)

// A collaboration session is the live room of one app, so its id is the
// app's (document) id: starting one for an app that has one returns it.

type sessionRequest struct {
	AppID string `json:"app_id"`
}

type participantView struct {
	PeerID   string    `json:"peer_id"`
	LastSeen time.Time `json:"last_seen"`
	// State is the peer's presence payload decoded from CBOR; Data is the
	// raw payload (base64) when it does not decode to JSON.
	State any    `json:"state,omitempty"`
	Data  string `json:"data,omitempty"`
}

type collabView struct {
	ID           string            `json:"id"`
	AppID        string            `json:"app_id"`
	URL          string            `json:"url"`
	SyncURL      string            `json:"sync_url"`
	Access       string            `json:"access"`
	Participants []participantView `json:"participants"`
}

func (a *API) startSession(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	var in sessionRequest
	if err := a.decode(w, r, &in, false); err != nil {
		return err
	}
	if in.AppID == "" {
		return badQuery("app_id is required")
	}
	return a.session(w, r, p, in.AppID)
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	return a.session(w, r, p, r.PathValue("id"))
}

func (a *API) joinSession(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	return a.session(w, r, p, r.PathValue("id"))
}

func (a *API) leaveSession(w http.ResponseWriter, r *http.Request, p accounts.Principal) error {
	if _, _, err := a.svc.App(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) session(w http.ResponseWriter, r *http.Request, p accounts.Principal, id string) error {
	app, role, err := a.svc.App(r.Context(), p, id)
	if err != nil {
		return err
	}
	access := "read"
	if role.AtLeast(accounts.RoleEditor) {
		access = "write"
	}
	out := collabView{ID: app.ID, AppID: app.ID, URL: "automerge:" + app.ID, SyncURL: a.syncURL(r), Access: access,
		Participants: []participantView{}}
	if a.cfg.Presence != nil {
		entries, err := a.cfg.Presence.Presence(r.Context(), crdt.DocID(app.ID))
		if err != nil {
			return err
		}
		for _, e := range entries {
			pv := participantView{PeerID: e.PeerID, LastSeen: e.At.UTC()}
			if v, ok := decodePresence(e.Data); ok {
				pv.State = v
			} else {
				pv.Data = base64.StdEncoding.EncodeToString(e.Data)
			}
			out.Participants = append(out.Participants, pv)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// decodePresence reads an ephemeral payload (CBOR, from automerge-repo
// clients) as a JSON-able value.
func decodePresence(data []byte) (any, bool) {
	dm, err := cbor.DecOptions{DefaultMapType: reflect.TypeFor[map[string]any](), MaxNestedLevels: 16}.DecMode()
	if err != nil {
		return nil, false
	}
	var v any
	if err := dm.Unmarshal(data, &v); err != nil {
		return nil, false
	}
	if _, err := json.Marshal(v); err != nil {
		return nil, false
	}
	return v, true
}
