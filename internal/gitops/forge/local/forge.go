// Package local is the forge that keeps pull requests in the git remote itself, so
// that any plain git remote works: a bare repository path, a file:// URL or a
// smart-HTTP server. It serves `gitmig demo`, air-gapped trials and tests.
//
// The ref refs/gitmig/forge points at a commit whose tree holds one file, pulls.json
// (see Database): every pull request, its comments, and the commit statuses. Each
// change is a child commit of the previous one, pushed without force, so the ref's
// history is the forge's audit log and a concurrent change makes the push fail as a
// non-fast-forward: the change is then reapplied on the fresh state. That serialises
// concurrent gitmig runs the way GitHub's API would.
//
// A pull request's URL is the remote followed by #pull/<number>, for example
// /srv/git/fleet.git#pull/3: there is no web UI to link to.
//
// Everything goes through go-git; for a local path go-git runs git-upload-pack and
// git-receive-pack, which must be installed.
package local

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/redact"
	"github.com/gitmig/gitmig/internal/step"
)

// ForgeRef is the ref that holds the forge's database.
const ForgeRef = plumbing.ReferenceName("refs/gitmig/forge")

// dbFile is the one file of the forge commit's tree.
const dbFile = "pulls.json"

// maxAttempts bounds the retries of a change that keeps losing push races.
const maxAttempts = 10

// Default author of the forge's commits and merge commits.
const (
	DefaultAuthorName  = "gitmig"
	DefaultAuthorEmail = "gitmig@localhost"
)

// Options configure a local forge.
type Options struct {
	// Remote is the git remote: a path (made absolute against the working directory),
	// a file:// URL or an HTTP(S) URL.
	Remote string
	// Base is the branch pull requests target when NewPullRequest.Base is empty;
	// "main" when empty.
	Base string
	// Auth authenticates to an HTTP(S) remote; nil for none.
	Auth transport.AuthMethod
	// AuthorName and AuthorEmail sign the forge's commits and merge commits;
	// DefaultAuthorName and DefaultAuthorEmail when empty.
	AuthorName  string
	AuthorEmail string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// CallTimeout bounds each exchange with the remote; two minutes when zero.
	CallTimeout time.Duration
}

// Forge is the local forge. Its methods are safe for concurrent use; separate Forge
// values, in one process or many, coordinate through the remote.
type Forge struct {
	opts Options
	// url is the remote as shown in pull request URLs: absolute, without credentials.
	url string
	// redact takes the credentials out of the errors of the transport.
	redact *redact.Redactor

	// mu guards store, a mirror of the remote's branches and refs/gitmig/*, kept
	// between calls so that fetches are incremental.
	mu     sync.Mutex
	store  *memory.Storage
	remote *git.Remote

	// beforePush, when set by tests, runs just before each push; an error stops the
	// push as a crash would.
	beforePush func(ref plumbing.ReferenceName) error
}

var _ forge.Forge = (*Forge)(nil)

// New returns a local forge on opts.Remote. It does not contact the remote.
func New(opts Options) (*Forge, error) {
	if opts.Remote == "" {
		return nil, errors.New("local forge: no remote")
	}
	if opts.Base == "" {
		opts.Base = "main"
	}
	if opts.AuthorName == "" {
		opts.AuthorName = DefaultAuthorName
	}
	if opts.AuthorEmail == "" {
		opts.AuthorEmail = DefaultAuthorEmail
	}
	if strings.ContainsAny(opts.AuthorName, "<>\n") || strings.ContainsAny(opts.AuthorEmail, "<>\n") {
		return nil, fmt.Errorf("local forge: author %q <%s> must not contain '<', '>' or a newline", opts.AuthorName, opts.AuthorEmail)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 2 * time.Minute
	}
	transportURL, displayURL, err := endpoint(opts.Remote)
	if err != nil {
		return nil, fmt.Errorf("local forge: %w", err)
	}
	store := memory.NewStorage()
	remote := git.NewRemote(store, &gitconfig.RemoteConfig{
		Name:  git.DefaultRemoteName,
		URLs:  []string{transportURL},
		Fetch: mirrorSpecs(),
	})
	var secrets []string
	if basic, ok := opts.Auth.(*githttp.BasicAuth); ok {
		secrets = append(secrets, basic.Password)
	}
	return &Forge{opts: opts, url: displayURL, redact: redact.New(secrets...), store: store, remote: remote}, nil
}

// URL returns the URL of pull request n: the remote followed by #pull/<n>.
func (f *Forge) URL(n int) string {
	return f.url + "#pull/" + strconv.Itoa(n)
}

// HeadURL addresses the pull request of a head branch by its branch, as
// <remote>#pulls?head=<branch>; `gitmig pr list` shows which number that is.
func (f *Forge) HeadURL(head string) string {
	return f.url + "#pulls?head=" + head
}

// Remote returns the remote as pull request URLs show it.
func (f *Forge) Remote() string { return f.url }

// now is the forge's clock at the resolution of a git signature.
func (f *Forge) now() time.Time {
	return f.opts.Now().Truncate(time.Second)
}

// Read returns the forge's database as List sees it: pull requests whose head was
// merged into their base by hand count as merged.
func (f *Forge) Read(ctx context.Context) (*Database, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.load(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.derive(); err != nil {
		return nil, err
	}
	return s.db, nil
}

// List returns the pull requests whose head branch starts with step.BranchPrefix, by
// number. It fetches once and changes nothing.
func (f *Forge) List(ctx context.Context) ([]forge.PullRequest, error) {
	db, err := f.Read(ctx)
	if err != nil {
		return nil, err
	}
	prs := []forge.PullRequest{}
	for _, p := range db.Pulls {
		if strings.HasPrefix(p.Head, step.BranchPrefix) {
			prs = append(prs, p.PullRequest())
		}
	}
	return prs, nil
}
