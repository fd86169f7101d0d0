package generate

import (
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	for _, c := range []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{"empty", nil, Config{}, ""},
		{"all", map[string]string{EnvBaseURL: "http://127.0.0.1:11434/v1", EnvAPIKey: "ollama", EnvModel: "llama3.1", EnvTimeout: "90s"},
			Config{BaseURL: "http://127.0.0.1:11434/v1", APIKey: "ollama", Model: "llama3.1", Timeout: 90 * time.Second}, ""},
		{"bad timeout", map[string]string{EnvTimeout: "soon"}, Config{}, EnvTimeout},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return c.env[k] })
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, c.wantErr)
				}
				return
			}
			if err != nil || got.BaseURL != c.want.BaseURL || got.APIKey != c.want.APIKey || got.Model != c.want.Model || got.Timeout != c.want.Timeout {
				t.Fatalf("ConfigFromEnv = %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"zero is valid", Config{}, ""},
		{"local server", Config{BaseURL: "http://localhost:1234/v1", APIKey: "x", Model: "qwen"}, ""},
		{"not a URL", Config{BaseURL: "localhost:1234"}, EnvBaseURL},
		{"ftp", Config{BaseURL: "ftp://example.com/v1"}, EnvBaseURL},
		{"negative timeout", Config{Timeout: -time.Second}, EnvTimeout},
		{"negative runs", Config{MaxRuns: -1}, "max runs"},
		{"negative price", Config{PriceIn: -1}, "prices"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("Validate = %v, want %q", err, c.wantErr)
			}
		})
	}
}

func TestConfigDefaultsAndSecrets(t *testing.T) {
	c := Config{APIKey: "sk-secret"}.withDefaults()
	if c.BaseURL != DefaultBaseURL || c.Model != DefaultModel || c.PriceIn != 0.15 || c.MaxRuns != 4 || c.Offline() {
		t.Fatalf("defaults = %+v", c)
	}
	if strings.Contains(c.String(), "sk-secret") {
		t.Fatalf("String leaks the key: %s", c)
	}
	if !(Config{}).Offline() {
		t.Fatal("no key must mean the offline planner")
	}
}
