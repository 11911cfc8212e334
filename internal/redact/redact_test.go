package redact

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"testing"
)

func TestRedactorHidesEveryFormOfASecret(t *testing.T) {
	const token = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
	r := New(token, "", "git")
	for _, in := range []string{
		"remote said: " + token,
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token)),
		"bad credentials for " + base64.StdEncoding.EncodeToString([]byte(token)),
		"https://x-access-token:" + token + "@github.com/org/fleet.git",
	} {
		out := r.String(in)
		if strings.Contains(out, token) || strings.Contains(out, "MTZD") || strings.Contains(out, "eC1hY2Nlc3Mtd") {
			t.Errorf("String(%q) = %q still shows the token", in, out)
		}
		if !strings.Contains(out, Mask) {
			t.Errorf("String(%q) = %q masks nothing", in, out)
		}
	}
	password := New("p@ss:w0rd/x")
	if got := password.String("login=admin&password=" + url.QueryEscape("p@ss:w0rd/x")); strings.Contains(got, "w0rd") {
		t.Errorf("a URL-encoded password shows: %q", got)
	}
	if got := r.String("git clone failed"); got != "git clone failed" {
		t.Errorf("a short secret masked a word: %q", got)
	}
}

func TestRedactorHidesCredentialShapesItWasNotTold(t *testing.T) {
	for in, want := range map[string]string{
		"cannot reach https://admin:s3cret@prom.example.test:9090/api": "cannot reach https://***@prom.example.test:9090/api",
		"cloning deploy:hunter22@git.example.test:org/fleet.git":       "cloning ***@git.example.test:org/fleet.git",
		"cloning git@github.com:org/fleet.git":                         "cloning git@github.com:org/fleet.git",
		`401: {"error": "Bearer abcdef123456 rejected"}`:               `401: {"error": "Bearer *** rejected"}`,
		"header Authorization: token ghp_abcdefghijkl":                 "header Authorization: token ***",
		"/srv/git/fleet.git: no such file":                             "/srv/git/fleet.git: no such file",
	} {
		if got := URL(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorKeepsWhatItWraps(t *testing.T) {
	const token = "glpat-abcdefghijklmnop"
	err := fmt.Errorf("pushing with %s: %w", token, fs.ErrPermission)
	got := New(token).Error(err)
	if strings.Contains(got.Error(), token) || !errors.Is(got, fs.ErrPermission) {
		t.Errorf("Error = %q, Is(ErrPermission) = %v", got, errors.Is(got, fs.ErrPermission))
	}
	if New(token).Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
}
