package accounts

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// TOTP parameters (RFC 6238 with the defaults every authenticator app
// supports): HMAC-SHA1, 6 digits, 30-second steps; a code of the step
// before or after is accepted too, for clock skew.
const (
	totpDigits = 6
	totpPeriod = 30
	totpSkew   = 1
	// backupCodes is how many one-time backup codes enrolment gives.
	backupCodes = 10
)

var totpB32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// newTOTPSecret returns a random 160-bit secret, base32 encoded.
func newTOTPSecret(rnd io.Reader) (string, error) {
	b := make([]byte, 20)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("totp secret: %w", err)
	}
	return totpB32.EncodeToString(b), nil
}

// hotp is RFC 4226's HOTP value of counter, as a zero-padded string.
func hotp(key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, code%mod)
}

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// totpCode returns the code of secret (base32) at t.
func totpCode(secret string, t time.Time) (string, error) {
	key, err := totpB32.DecodeString(strings.ToUpper(secret))
	if err != nil {
		return "", fmt.Errorf("totp secret: %w", err)
	}
	return hotp(key, uint64(totpStep(t)), totpDigits), nil
}

// checkTOTP returns the step code matches at now (within the skew), or
// false.
func checkTOTP(secret, code string, now time.Time) (int64, bool) {
	key, err := totpB32.DecodeString(strings.ToUpper(secret))
	if err != nil || len(code) != totpDigits {
		return 0, false
	}
	step := totpStep(now)
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		if hmac.Equal([]byte(hotp(key, uint64(step+d), totpDigits)), []byte(code)) {
			return step + d, true
		}
	}
	return 0, false
}

// otpauthURL is the enrolment URL authenticator apps read (from a QR code).
func otpauthURL(issuer, account, secret string) string {
	label := url.PathEscape(issuer) + ":" + url.PathEscape(account)
	q := url.Values{}
	q.Set("secret", secret)
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", fmt.Sprint(totpDigits))
	q.Set("period", fmt.Sprint(totpPeriod))
	return "otpauth://totp/" + label + "?" + q.Encode()
}

// newBackupCodes returns fresh codes (xxxxx-xxxxx, lower-case base32) and
// the digests stored for them.
func newBackupCodes(rnd io.Reader) (codes, digests []string, err error) {
	enc := base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)
	for range backupCodes {
		b := make([]byte, 7)
		if _, err := io.ReadFull(rnd, b); err != nil {
			return nil, nil, fmt.Errorf("backup codes: %w", err)
		}
		s := enc.EncodeToString(b)[:10]
		code := s[:5] + "-" + s[5:]
		codes = append(codes, code)
		digests = append(digests, backupDigest(code))
	}
	return codes, digests, nil
}

// backupDigest is how a backup code is stored: codes carry 50 random bits,
// so a plain SHA-256 is enough.
func backupDigest(code string) string {
	c := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(code), " ", ""))
	if len(c) == 10 {
		c = c[:5] + "-" + c[5:]
	}
	sum := sha256.Sum256([]byte("casual-backup-code:" + c))
	return hex.EncodeToString(sum[:])
}

// TOTPCode returns the code an authenticator app shows for secret at t
// (for tests and admin tools).
func TOTPCode(secret string, t time.Time) (string, error) { return totpCode(secret, t) }
