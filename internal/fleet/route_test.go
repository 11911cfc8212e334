package fleet

import (
	"strings"
	"testing"
)

func TestHosts(t *testing.T) {
	tests := []struct {
		rule string
		want string
	}{
		{"Host(`a`) || Host(`b.c`)", "a,b.c"},
		{"Host(`a`) && PathPrefix(`/x`)", ""},
		{"(Host(`a`) || Host(`b`))", "a,b"},
		{"Host(`a`, `b`)", "a,b"},
		{"HostRegexp(`.+`)", ""},
		{"Host(`A.Example`) || PathPrefix(`/`)", "a.example"},
	}
	for _, tt := range tests {
		if got := strings.Join(Hosts(tt.rule), ","); got != tt.want {
			t.Errorf("Hosts(%q) = %q, want %q", tt.rule, got, tt.want)
		}
	}
}
