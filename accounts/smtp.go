package accounts

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// SMTPMailer delivers mail through an SMTP server (net/smtp). Over smtp://
// it upgrades the connection with STARTTLS whenever the server offers it,
// and authenticates (PLAIN) when a user is set — net/smtp refuses to send
// the password over an unencrypted connection except to localhost. Over
// smtps:// the connection is TLS from the start.
type SMTPMailer struct {
	// Addr is host:port of the server.
	Addr string
	// ImplicitTLS: connect with TLS (smtps, usually port 465).
	ImplicitTLS bool
	// Username and Password, if Username is set, authenticate.
	Username string
	Password string
	// From is the sender address, possibly with a name: "Casual
	// <no-reply@example.com>".
	From string
	// TLSConfig verifies the server (nil: the system roots, for the host of
	// Addr).
	TLSConfig *tls.Config
	// Timeout bounds one delivery when ctx has no deadline (default 30 s).
	Timeout time.Duration
	// Hello is the name sent in EHLO (default localhost).
	Hello string
}

// NewSMTPMailer reads a URL like smtp://user:pass@host:587 or
// smtps://host:465 (port defaults 587 and 465) and the From address.
func NewSMTPMailer(rawURL, from string) (*SMTPMailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil { // not the error: it repeats the URL, password included
		return nil, errors.New("smtp url: not a URL like smtp://user:pass@host:587")
	}
	m := &SMTPMailer{From: from}
	port := "587"
	switch u.Scheme {
	case "smtp":
	case "smtps":
		m.ImplicitTLS, port = true, "465"
	default:
		return nil, fmt.Errorf("smtp url: scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("smtp url: no host")
	}
	if u.Port() != "" {
		port = u.Port()
	}
	m.Addr = net.JoinHostPort(u.Hostname(), port)
	if u.User != nil {
		m.Username = u.User.Username()
		m.Password, _ = u.User.Password()
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail from %q: %w", from, err)
	}
	m.From = a.String()
	return m, nil
}

// Send implements Mailer.
func (m *SMTPMailer) Send(ctx context.Context, msg Mail) error {
	if strings.ContainsAny(msg.To, "\r\n") || strings.ContainsAny(msg.Subject, "\r\n") {
		return errors.New("smtp: line break in a header")
	}
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return fmt.Errorf("smtp: from %q: %w", m.From, err)
	}
	body, err := m.compose(from, msg)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		timeout := m.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	c, err := m.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := m.deliver(c, from.Address, msg.To, body); err != nil {
		return fmt.Errorf("smtp %s: %w", m.Addr, err)
	}
	return nil
}

func (m *SMTPMailer) tlsConfig() *tls.Config {
	if m.TLSConfig != nil {
		return m.TLSConfig.Clone()
	}
	host, _, _ := net.SplitHostPort(m.Addr)
	return &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
}

// dial connects (the connection's deadline is ctx's) and says hello.
func (m *SMTPMailer) dial(ctx context.Context) (*smtp.Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if m.ImplicitTLS {
		tc := tls.Client(conn, m.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("smtp: tls: %w", err)
		}
		conn = tc
	}
	host, _, _ := net.SplitHostPort(m.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("smtp: %w", err)
	}
	hello := m.Hello
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		c.Close()
		return nil, fmt.Errorf("smtp: %w", err)
	}
	return c, nil
}

func (m *SMTPMailer) deliver(c *smtp.Client, from, to string, body []byte) error {
	if ok, _ := c.Extension("STARTTLS"); ok && !m.ImplicitTLS {
		if err := c.StartTLS(m.tlsConfig()); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if m.Username != "" {
		host, _, _ := net.SplitHostPort(m.Addr)
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// compose renders the message: plain UTF-8 text, quoted-printable.
func (m *SMTPMailer) compose(from *mail.Address, msg Mail) ([]byte, error) {
	var b bytes.Buffer
	domain := from.Address[strings.LastIndex(from.Address, "@")+1:]
	var rb [12]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return nil, fmt.Errorf("compose mail: %w", err)
	}
	id := hex.EncodeToString(rb[:])
	for _, h := range [][2]string{
		{"From", from.String()},
		{"To", msg.To},
		{"Subject", mime.QEncoding.Encode("utf-8", msg.Subject)},
		{"Date", time.Now().UTC().Format(time.RFC1123Z)},
		{"Message-ID", "<" + id + "@" + domain + ">"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"},
	} {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	text := strings.ReplaceAll(strings.ReplaceAll(msg.Text, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(text + "\r\n")); err != nil {
		return nil, fmt.Errorf("compose mail: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("compose mail: %w", err)
	}
	return b.Bytes(), nil
}
