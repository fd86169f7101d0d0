package generate

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Config is the AI co-editor's configuration. cmd/casual fills it from
// flags; ConfigFromEnv reads the CASUAL_OPENAI_* variables.
type Config struct {
	// BaseURL of the OpenAI-compatible API, up to and including /v1
	// (CASUAL_OPENAI_BASE_URL). Default https://api.openai.com/v1; for
	// local servers e.g. http://127.0.0.1:11434/v1 (Ollama).
	BaseURL string
	// APIKey is sent as a bearer token (CASUAL_OPENAI_API_KEY). Empty
	// selects the offline planner; local servers that need no key take any
	// placeholder value.
	APIKey string
	// Model name (CASUAL_OPENAI_MODEL). Default gpt-4o-mini.
	Model string
	// Timeout bounds one model request, from sending it to the end of its
	// stream (CASUAL_OPENAI_TIMEOUT). Default 2m.
	Timeout time.Duration
	// MaxRetries is how often a request answered 429 or 5xx before its
	// stream starts is retried. Default 3; negative disables retries.
	MaxRetries int
	// RetryBackoff is the first retry's delay; it doubles per retry, with
	// jitter. Default 500ms.
	RetryBackoff time.Duration
	// MaxRuns is how many runs generate at once; later ones wait queued.
	// Default 4.
	MaxRuns int
	// MaxOps caps the operations one run applies. Default 500.
	MaxOps int
	// KeepRuns is how many finished runs keep what revert and accept need
	// (their undo group, their fork). Default 200.
	KeepRuns int
	// PriceIn and PriceOut are USD per million input and output tokens for
	// the cost estimate; zero uses a built-in table of known models.
	PriceIn, PriceOut float64
	// Name is the AI participant's name in presence. Default "Casual AI".
	Name string
	// PresenceHeartbeat is how often a running AI repeats its presence so
	// peers' TTLs keep it. Default 15s.
	PresenceHeartbeat time.Duration
	// NoTools stops offering the operations to the model as tools (function
	// calling), for servers that reject requests with tools
	// (CASUAL_OPENAI_TOOLS=false): the model then writes JSON lines only.
	// Either way, operations arriving as lines or as tool calls are applied.
	NoTools bool
	// HTTPClient calls the model API; default a client without timeout
	// (Timeout applies per request).
	HTTPClient *http.Client
}

// The environment variables ConfigFromEnv reads.
const (
	EnvBaseURL = "CASUAL_OPENAI_BASE_URL"
	EnvAPIKey  = "CASUAL_OPENAI_API_KEY"
	EnvModel   = "CASUAL_OPENAI_MODEL"
	EnvTimeout = "CASUAL_OPENAI_TIMEOUT"
)

// DefaultBaseURL and DefaultModel are used when the config leaves them
// empty.
const (
	DefaultBaseURL = "https://api.openai.com/v1"
	DefaultModel   = "gpt-4o-mini"
)

// PlannerModel is the model name runs record when the offline planner
// served them.
const PlannerModel = "offline-planner"

// ConfigFromEnv returns a Config from the CASUAL_OPENAI_* variables
// (getenv is os.Getenv in production). Unset ones keep their defaults; a
// malformed timeout is an error.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{BaseURL: getenv(EnvBaseURL), APIKey: getenv(EnvAPIKey), Model: getenv(EnvModel)}
	if s := getenv(EnvTimeout); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return c, fmt.Errorf("%s=%q: want a duration like 90s: %w", EnvTimeout, s, err)
		}
		c.Timeout = d
	}
	return c, nil
}

// Offline reports whether runs use the built-in planner (no API key).
func (c Config) Offline() bool { return c.APIKey == "" }

// Validate reports settings that cannot work, with the setting's name.
func (c Config) Validate() error {
	var errs []error
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q: want an http(s) URL such as %s", EnvBaseURL, c.BaseURL, DefaultBaseURL))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{EnvTimeout, c.Timeout}, {"retry backoff", c.RetryBackoff}, {"presence heartbeat", c.PresenceHeartbeat}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative, got %v", d.name, d.v))
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"max runs", c.MaxRuns}, {"max ops", c.MaxOps}, {"keep runs", c.KeepRuns}} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative, got %d", n.name, n.v))
		}
	}
	if c.PriceIn < 0 || c.PriceOut < 0 {
		errs = append(errs, errors.New("token prices must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.Model == "" {
		c.Model = DefaultModel
	}
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Minute
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 3
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 500 * time.Millisecond
	}
	if c.MaxRuns == 0 {
		c.MaxRuns = 4
	}
	if c.MaxOps == 0 {
		c.MaxOps = 500
	}
	if c.KeepRuns == 0 {
		c.KeepRuns = 200
	}
	if c.Name == "" {
		c.Name = "Casual AI"
	}
	if c.PresenceHeartbeat == 0 {
		c.PresenceHeartbeat = 15 * time.Second
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.PriceIn == 0 && c.PriceOut == 0 {
		c.PriceIn, c.PriceOut = knownPrice(c.Model)
	}
	return c
}

// knownPrice returns list prices (USD per million tokens) of a few common
// models, for the cost estimate; unknown models (local ones) cost 0.
func knownPrice(model string) (in, out float64) {
	switch model {
	case "gpt-4o-mini":
		return 0.15, 0.60
	case "gpt-4o":
		return 2.50, 10
	case "gpt-4.1":
		return 2, 8
	case "gpt-4.1-mini":
		return 0.40, 1.60
	case "gpt-4.1-nano":
		return 0.10, 0.40
	}
	return 0, 0
}

// String describes the config for logs without the API key.
func (c Config) String() string {
	key := "unset (offline planner)"
	if c.APIKey != "" {
		key = "set (" + strconv.Itoa(len(c.APIKey)) + " chars)"
	}
	return fmt.Sprintf("base=%s model=%s key=%s timeout=%v", c.BaseURL, c.Model, key, c.Timeout)
}
