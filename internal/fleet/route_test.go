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

func TestHostSNIs(t *testing.T) {
	tests := []struct {
		rule string
		want string
	}{
		{"HostSNI(`a`) || HostSNI(`B.c`)", "a,b.c"},
		{"HostSNI(`*`)", "*"},
		{"HostSNI(`a`) && ClientIP(`10.0.0.0/8`)", ""},
		{"Host(`a`)", ""},
		{"HostSNIRegexp(`.+`)", ""},
	}
	for _, tt := range tests {
		if got := strings.Join(HostSNIs(tt.rule), ","); got != tt.want {
			t.Errorf("HostSNIs(%q) = %q, want %q", tt.rule, got, tt.want)
		}
	}
	if got := Hosts("HostSNI(`a`)"); len(got) != 0 {
		t.Errorf("Hosts reads HostSNI: %v", got)
	}
}
