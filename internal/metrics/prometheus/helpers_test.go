package prometheus_test

import (
	"strings"
	"testing"

	"github.com/gitmig/gitmig/internal/config"
)

const gi = float64(1 << 30)

func parseConfig(t *testing.T, doc string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(nil); err != nil {
		t.Fatalf("fixture config is invalid: %v", err)
	}
	return cfg
}

func wantContains(t *testing.T, what, got string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(got, p) {
			t.Errorf("%s = %q\nwant it to contain %q", what, got, p)
		}
	}
}
