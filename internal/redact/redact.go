// Package redact takes secrets out of text before anyone can read it: errors, logs,
// pull request bodies, commit statuses and migration records.
//
// A Redactor knows the secrets of one process (the git and GitHub token, the
// Prometheus credentials) and hides every form a server may echo them in: as given,
// in base64 alone or as the user:password pair of HTTP basic auth (git servers answer
// a refused x-access-token with it), and URL-encoded. Without knowing a secret it
// still hides what is one by its place: the userinfo of a URL or of an scp-like git
// remote, and the credentials of a Bearer or Basic authorization.
package redact

import (
	"encoding/base64"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Mask replaces every secret.
const Mask = "***"

// minSecret is the shortest value taken for a secret: shorter ones, such as a
// username "git", would mask common words.
const minSecret = 6

// Redactor hides known secrets and credential-shaped text.
type Redactor struct {
	// forms are every spelling of every secret, longest first, so that a form
	// containing another is masked whole.
	forms []string
}

// New returns a Redactor for secrets; empty and short ones are ignored.
func New(secrets ...string) *Redactor {
	r := &Redactor{}
	var kept []string
	for _, s := range secrets {
		if len(s) >= minSecret {
			kept = append(kept, s)
		}
	}
	for _, s := range kept {
		r.add(s)
		r.add(url.QueryEscape(s))
		r.add(base64.StdEncoding.EncodeToString([]byte(s)))
		// Basic auth sends user:password: git hosts take the token as either.
		for _, user := range []string{"x-access-token", "git", "oauth2", "token", ""} {
			r.add(base64.StdEncoding.EncodeToString([]byte(user + ":" + s)))
			r.add(base64.StdEncoding.EncodeToString([]byte(s + ":" + user)))
		}
		for _, other := range kept {
			if other != s {
				r.add(base64.StdEncoding.EncodeToString([]byte(s + ":" + other)))
			}
		}
	}
	slices.SortFunc(r.forms, func(a, b string) int { return len(b) - len(a) })
	r.forms = slices.Compact(r.forms)
	return r
}

func (r *Redactor) add(form string) {
	form = strings.TrimRight(form, "=")
	if len(form) >= minSecret {
		r.forms = append(r.forms, form)
	}
}

// Credential shapes, for what no Redactor was told about.
var (
	// scheme://user[:password]@host
	urlUserinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s"'<>]+@`)
	// user:password@host:path, git's scp-like remote; a user alone (git@) is kept.
	scpUserinfo = regexp.MustCompile(`(^|[\s"'(=])[^\s/@:"'(=]+:[^\s/@"']+@([^\s/:@]+:)`)
	// Authorization: Bearer xyz, Basic xyz, token xyz
	authorization = regexp.MustCompile(`(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{6,}`)
)

// String returns s with every secret and every credential-shaped part masked.
func (r *Redactor) String(s string) string {
	if r != nil {
		for _, f := range r.forms {
			s = strings.ReplaceAll(s, f, Mask)
		}
	}
	s = urlUserinfo.ReplaceAllString(s, "${1}"+Mask+"@")
	s = scpUserinfo.ReplaceAllString(s, "${1}"+Mask+"@${2}")
	return authorization.ReplaceAllString(s, "${1}${2}"+Mask)
}

// Error returns err with its message redacted; errors.Is and errors.As still see
// what it wraps.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := r.String(msg)
	if clean == msg {
		return err
	}
	return &redacted{msg: clean, err: err}
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// Is keeps errors.Is working through the wrapper without exposing the message.
func (e *redacted) Is(target error) bool { return errors.Is(e.err, target) }

// URL returns a URL or git remote with any userinfo masked, for showing where gitmig
// connects.
func URL(s string) string { return (*Redactor)(nil).String(s) }
