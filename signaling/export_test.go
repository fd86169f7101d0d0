package signaling

import (
	"github.com/pion/transport/v4"
	"github.com/pion/webrtc/v4"
)

// WithNet makes DialServer use n instead of the operating system's network,
// so a test can cut a peer off without closing it.
func WithNet(n transport.Net) DialOption { return func(d *dialConfig) { d.net = n } }

// PresenceChannel exposes the raw presence channel, to send what a
// well-behaved peer would not.
func (c *Conn) PresenceChannel() *webrtc.DataChannel { return c.pres.Load() }
