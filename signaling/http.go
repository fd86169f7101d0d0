package signaling

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/casual-dev/casual/collab"
)

// Router is where routes are mounted: *http.ServeMux and *web.Server
// both are one.
type Router interface {
	Handle(pattern string, h http.Handler)
}

// Register mounts POST /rtc/offer and GET /rtc/config.
func (g *Gateway) Register(r Router) {
	r.Handle("POST /rtc/offer", http.HandlerFunc(g.ServeOffer))
	r.Handle("GET /rtc/config", http.HandlerFunc(g.ServeConfig))
}

// OfferRequest is the body of POST /rtc/offer. The token may instead come
// from ?token= or the casual_token cookie, as for /sync.
type OfferRequest struct {
	Type  string `json:"type,omitempty"` // "offer", optional
	SDP   string `json:"sdp"`
	Token string `json:"token,omitempty"`
}

// OfferResponse is the answer to an offer.
type OfferResponse struct {
	Type string `json:"type"` // "answer"
	SDP  string `json:"sdp"`
}

// RTCConfig is served at GET /rtc/config: pass ICEServers to new
// RTCPeerConnection({iceServers}).
type RTCConfig struct {
	ICEServers []ICEServer `json:"iceServers"`
	Offer      string      `json:"offer"`    // path of the offer endpoint
	Channels   []string    `json:"channels"` // labels to create, in order
}

// ServeConfig answers GET /rtc/config.
func (g *Gateway) ServeConfig(w http.ResponseWriter, r *http.Request) {
	servers := g.cfg.ICEServers
	if servers == nil {
		servers = []ICEServer{}
	}
	w.Header().Set("Cache-Control", "no-store") // TURN credentials may rotate
	writeJSON(w, http.StatusOK, RTCConfig{ICEServers: servers, Offer: "/rtc/offer",
		Channels: []string{LabelAutomerge, LabelPresence}})
}

// ServeOffer answers POST /rtc/offer with the server's SDP answer.
func (g *Gateway) ServeOffer(w http.ResponseWriter, r *http.Request) {
	var req OfferRequest
	body := http.MaxBytesReader(w, r.Body, g.cfg.MaxOfferBytes)
	if err := json.NewDecoder(body).Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			g.httpError(w, http.StatusRequestEntityTooLarge, "offer_too_large", "offer body over "+strconv.FormatInt(g.cfg.MaxOfferBytes, 10)+" bytes")
			return
		}
		g.httpError(w, http.StatusBadRequest, "malformed_json", "body must be JSON {\"sdp\": \"<offer>\", \"token\": \"...\"}: "+err.Error())
		return
	}
	if req.Type != "" && req.Type != "offer" {
		g.httpError(w, http.StatusBadRequest, "invalid_message", "type must be \"offer\", got "+strconv.Quote(truncate(req.Type, 40)))
		return
	}
	if req.Token == "" {
		req.Token = tokenOf(r)
	}
	cred := collab.Credentials{Token: req.Token, RemoteAddr: r.RemoteAddr}
	answer, err := g.Answer(r.Context(), req.SDP, cred)
	if err != nil {
		status, code := offerStatus(err)
		g.httpError(w, status, code, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, OfferResponse{Type: "answer", SDP: answer})
}

func offerStatus(err error) (int, string) {
	switch {
	case errors.Is(err, ErrInvalidSDP):
		return http.StatusBadRequest, "invalid_sdp"
	case errors.Is(err, collab.ErrUnauthorized):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, ErrTooManyPeers):
		return http.StatusServiceUnavailable, "too_many_peers"
	case errors.Is(err, collab.ErrShuttingDown):
		return http.StatusServiceUnavailable, "shutting_down"
	case errors.Is(err, ErrGather):
		return http.StatusGatewayTimeout, "gather_timeout"
	}
	return http.StatusInternalServerError, "internal"
}

func (g *Gateway) httpError(w http.ResponseWriter, status int, code, msg string) {
	g.cfg.Metrics.signalError(code)
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// tokenOf reads the credentials a browser can send: ?token= or a cookie.
func tokenOf(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	if c, err := r.Cookie("casual_token"); err == nil {
		return c.Value
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
