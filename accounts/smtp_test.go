package accounts_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casual-dev/casual/accounts"
	"github.com/casual-dev/casual/accounts/accountstest"
)

// smtpServer is a fake mail server on 127.0.0.1 speaking the SMTP wire
// protocol (RFC 5321): EHLO, STARTTLS (RFC 3207), AUTH PLAIN (RFC 4954),
// MAIL, RCPT, DATA with dot-stuffing, QUIT. It keeps what it accepts.
type smtpServer struct {
	addr     string
	tls      *tls.Config // nil: no STARTTLS offered
	user     string      // "": no AUTH needed
	password string

	mu   sync.Mutex
	got  []delivery
	errs []string
}

type delivery struct {
	from, to string
	tls      bool // the message came over TLS
	authed   bool
	data     string
}

func startSMTP(t *testing.T, tlsConf *tls.Config, user, password string) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{addr: ln.Addr().String(), tls: tlsConf, user: user, password: password}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				s.serve(conn)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return s
}

func (s *smtpServer) fail(format string) {
	s.mu.Lock()
	s.errs = append(s.errs, format)
	s.mu.Unlock()
}

func (s *smtpServer) serve(conn net.Conn) {
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	r, w := bufio.NewReader(conn), bufio.NewWriter(conn)
	reply := func(lines ...string) {
		for _, l := range lines {
			w.WriteString(l + "\r\n")
		}
		w.Flush()
	}
	var d delivery
	reply("220 fake.test ESMTP ready")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			lines := []string{"250-fake.test greets " + arg}
			if s.tls != nil && !d.tls {
				lines = append(lines, "250-STARTTLS")
			}
			if s.user != "" {
				lines = append(lines, "250-AUTH PLAIN")
			}
			reply(append(lines, "250 8BITMIME")...)
		case "STARTTLS":
			if s.tls == nil || d.tls {
				reply("502 not now")
				continue
			}
			reply("220 go ahead")
			tc := tls.Server(conn, s.tls)
			if err := tc.Handshake(); err != nil {
				s.fail("tls handshake: " + err.Error())
				return
			}
			conn, r, w = tc, bufio.NewReader(tc), bufio.NewWriter(tc)
			d = delivery{tls: true} // RFC 3207: forget everything said before
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			raw, err := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(raw), "\x00")
			if mech != "PLAIN" || err != nil || len(parts) != 3 || parts[1] != s.user || parts[2] != s.password {
				reply("535 5.7.8 authentication failed")
				continue
			}
			d.authed = true
			reply("235 2.7.0 accepted")
		case "MAIL":
			if s.user != "" && !d.authed {
				reply("530 5.7.0 authentication required")
				continue
			}
			d.from = between(arg, "<", ">")
			reply("250 ok")
		case "RCPT":
			d.to = between(arg, "<", ">")
			reply("250 ok")
		case "DATA":
			reply("354 end with <CRLF>.<CRLF>")
			var body strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				body.WriteString(strings.TrimPrefix(l, ".")) // dot-stuffing
			}
			d.data = body.String()
			s.mu.Lock()
			s.got = append(s.got, d)
			s.mu.Unlock()
			reply("250 queued")
		case "RSET", "NOOP":
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("500 unknown command")
		}
	}
}

// between returns what s has between the first open and the next close.
func between(s, open, close string) string {
	_, rest, _ := strings.Cut(s, open)
	v, _, _ := strings.Cut(rest, close)
	return v
}

func (s *smtpServer) deliveries() []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]delivery(nil), s.got...)
}

// selfSigned returns a server certificate for 127.0.0.1 and a client
// config that trusts it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fake.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// parsed is a delivered message as a mail reader sees it.
type parsed struct {
	to, subject, text string
}

func parse(t *testing.T, data string) parsed {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatalf("delivered message does not parse: %v\n%s", err, data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader = m.Body
	if m.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
		body = quotedprintable.NewReader(m.Body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return parsed{to: m.Header.Get("To"), subject: subject, text: string(text)}
}

// TestSMTPMailerDeliversTheLink: a sign-up's verification mail goes
// through a real SMTP conversation — STARTTLS when offered, AUTH when
// configured — and arrives with the address, subject and a working link.
func TestSMTPMailerDeliversTheLink(t *testing.T) {
	srvTLS, cliTLS := selfSigned(t)
	cases := []struct {
		name       string
		tls        bool
		user, pass string
	}{
		{"plain, no auth", false, "", ""},
		{"starttls and auth", true, "casual", "s3cret:pass"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var serverConf *tls.Config
			if tc.tls {
				serverConf = srvTLS
			}
			fake := startSMTP(t, serverConf, tc.user, tc.pass)
			u := "smtp://" + fake.addr
			if tc.user != "" {
				u = "smtp://" + tc.user + ":" + strings.ReplaceAll(tc.pass, ":", "%3A") + "@" + fake.addr
			}
			m, err := accounts.NewSMTPMailer(u, "Casual <no-reply@casual.test>")
			if err != nil {
				t.Fatal(err)
			}
			m.TLSConfig = cliTLS
			st := accountstest.NewStack(t, "embedded", func(c *accounts.Config) {
				c.Mailer = m
				c.BaseURL = "https://casual.test"
			})
			ctx := ctxOf(t)
			if _, _, err := st.Service.Register(ctx, accounts.RegisterInput{Email: "Zoe@Example.com", Password: "correct horse battery", Name: "Zoë"}); err != nil {
				t.Fatal(err)
			}
			got := fake.deliveries()
			if len(got) != 1 {
				t.Fatalf("%d deliveries (server errors %v), want 1", len(got), fake.errs)
			}
			d := got[0]
			if d.tls != tc.tls || d.authed != (tc.user != "") {
				t.Fatalf("delivered with tls=%v auth=%v", d.tls, d.authed)
			}
			if d.from != "no-reply@casual.test" || d.to != "zoe@example.com" {
				t.Fatalf("envelope from %q to %q", d.from, d.to)
			}
			p := parse(t, d.data)
			if p.to != "zoe@example.com" || p.subject != "Confirm your email" {
				t.Fatalf("headers: to %q subject %q", p.to, p.subject)
			}
			i := strings.Index(p.text, "https://casual.test/verify-email?token=")
			if i < 0 {
				t.Fatalf("no link in %q", p.text)
			}
			link := strings.Fields(p.text[i:])[0]
			tok := strings.TrimPrefix(link, "https://casual.test/verify-email?token=")
			if _, err := st.Service.VerifyEmail(ctx, tok); err != nil {
				t.Fatalf("the mailed link's token does not verify: %v", err)
			}
		})
	}
}

func TestSMTPMailerFailsCleanly(t *testing.T) {
	fake := startSMTP(t, nil, "casual", "right")
	for _, tc := range []struct{ name, url string }{
		{"wrong password", "smtp://casual:wrong@" + fake.addr},
		{"nobody listening", "smtp://127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := accounts.NewSMTPMailer(tc.url, "no-reply@casual.test")
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Send(ctxOf(t), accounts.Mail{To: "a@example.com", Subject: "s", Text: "t"}); err == nil {
				t.Fatal("Send succeeded")
			}
		})
	}
	if n := len(fake.deliveries()); n != 0 {
		t.Fatalf("%d messages delivered", n)
	}
	for _, bad := range []string{"http://host", "smtp://", "::"} {
		if _, err := accounts.NewSMTPMailer(bad, "no-reply@casual.test"); err == nil {
			t.Errorf("NewSMTPMailer(%q) succeeded", bad)
		}
	}
	if _, err := accounts.NewSMTPMailer("smtp://host", "not an address"); err == nil {
		t.Error("a bad From was accepted")
	}
}
