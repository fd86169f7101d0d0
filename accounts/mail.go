package accounts

import (
	"context"
	"log/slog"
)

// Mail kinds.
const (
	MailVerifyEmail   = "verify-email"
	MailResetPassword = "reset-password"
)

// Mail is one message to a user: a link carrying a one-time token.
type Mail struct {
	Kind    string // MailVerifyEmail or MailResetPassword
	To      string
	Subject string
	Text    string
	Link    string
	// Token is the one-time token the link carries.
	Token string
}

// Mailer delivers mail. Send may block (an SMTP round trip); it is
// called on the request's goroutine and should honour ctx.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// LogMailer is the default Mailer: it logs the link instead of sending
// it, which is what a local single-user server needs.
type LogMailer struct{ Logger *slog.Logger }

// Send implements Mailer.
func (l LogMailer) Send(ctx context.Context, m Mail) error {
	log := l.Logger
	if log == nil {
		log = slog.Default()
	}
	log.InfoContext(ctx, "mail (not sent: no mailer configured)", slog.String("kind", m.Kind),
		slog.String("to", m.To), slog.String("subject", m.Subject), slog.String("link", m.Link))
	return nil
}
