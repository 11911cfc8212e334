package traffic

import (
	"slices"
	"testing"
)

func TestKindOf(t *testing.T) {
	for _, tt := range []struct {
		protocol, appProtocol string
		want                  Kind
	}{
		{"", "", HTTP},
		{"TCP", "http", HTTP},
		{"TCP", "HTTP", HTTP},
		{"TCP", "kubernetes.io/ws", HTTP},
		{"TCP", "kubernetes.io/h2c", H2C},
		{"TCP", "grpc", H2C},
		{"TCP", "https", TLS},
		{"TCP", "tls", TLS},
		{"TCP", "kubernetes.io/wss", TLS},
		{"TCP", "grpcs", TLS},
		{"TCP", "tcp", TCP},
		{"TCP", "postgresql", TCP},
		{"TCP", "example.com/custom", TCP},
		{"UDP", "", UDP},
		{"udp", "dns", UDP},
		{"UDP", "http", UDP},
	} {
		got, err := KindOf(tt.protocol, tt.appProtocol)
		if err != nil || got != tt.want {
			t.Errorf("KindOf(%q, %q) = %q, %v; want %q", tt.protocol, tt.appProtocol, got, err, tt.want)
		}
	}
	if k, err := KindOf("SCTP", ""); err == nil || err.Error() != "protocol SCTP: Traefik carries TCP and UDP only" {
		t.Errorf("KindOf(SCTP) = %q, %v; want an error", k, err)
	}
}

func TestKnown(t *testing.T) {
	for appProtocol, want := range map[string]bool{
		"http": true, "kubernetes.io/h2c": true, "grpcs": true, "tcp": true,
		"": false, "htpp": false, "postgresql": false,
	} {
		if got := Known(appProtocol); got != want {
			t.Errorf("Known(%q) = %v, want %v", appProtocol, got, want)
		}
	}
}

func TestEntryPoints(t *testing.T) {
	for k, want := range map[Kind]Kind{HTTP: HTTP, H2C: HTTP, TLS: TLS, TCP: TCP, UDP: UDP} {
		if got := k.EntryPoint(); got != want || !IsEntryPointProtocol(string(got)) {
			t.Errorf("%s.EntryPoint() = %q, want %q", k, got, want)
		}
	}
	if IsEntryPointProtocol("h2c") || IsEntryPointProtocol("") {
		t.Error("h2c or nothing is an entry point protocol")
	}
	for k, want := range map[Kind]bool{HTTP: false, H2C: false, TLS: false, TCP: true, UDP: true} {
		if k.Exclusive() != want {
			t.Errorf("%s.Exclusive() = %v", k, !want)
		}
	}
}

func TestEntryPointUse(t *testing.T) {
	var free EntryPointUse
	if got := free.Conflicts("a/db", TCP); len(got) != 0 {
		t.Errorf("a free entry point conflicts: %v", got)
	}
	web := free.With("a/web", HTTP).With("b/api", H2C)
	if got := web.Conflicts("c/new", HTTP); len(got) != 0 {
		t.Errorf("HTTP routes conflict with HTTP routes: %v", got)
	}
	if got := web.Conflicts("c/db", TCP); !slices.Equal(got, []string{"a/web", "b/api"}) {
		t.Errorf("a TCP route where HTTP ones are conflicts with %v, want both", got)
	}
	db := free.With("a/db", TCP)
	if !db.CatchAll || len(free.Services) != 0 {
		t.Errorf("With: %+v, and the original %+v", db, free)
	}
	if got := db.Conflicts("a/db", TCP); len(got) != 0 {
		t.Errorf("a service conflicts with its own route: %v", got)
	}
	if got := db.Conflicts("b/api", HTTP); !slices.Equal(got, []string{"a/db"}) {
		t.Errorf("an HTTP route where a catch-all is conflicts with %v, want a/db", got)
	}
	if got := db.With("a/db", TCP).Services; !slices.Equal(got, []string{"a/db"}) {
		t.Errorf("a service added twice: %v", got)
	}
}
