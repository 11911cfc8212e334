// Package github implements forge.Forge on the GitHub REST API through go-github.
//
// No go-github type leaves this package: pull requests are returned as
// forge.PullRequest, rate limits as *forge.RateLimitError, unknown pull request
// numbers as errors wrapping forge.ErrNotFound, and every other API failure as an
// error that carries GitHub's status and message but never a URL, a header or the
// token. The token is sent in the Authorization header and nowhere else.
package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/redact"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/text"
)

// DefaultListWindow bounds how far back List pages through closed pull requests.
const DefaultListWindow = 30 * 24 * time.Hour

// perPage is GitHub's largest page size for the pull request list.
const perPage = 100

// maxDescription is the longest commit status description GitHub accepts.
const maxDescription = 140

// Options configure a Forge.
type Options struct {
	// Owner and Repo name the repository that holds the GitOps tree.
	Owner string
	Repo  string
	// Token authenticates every call (a personal access token, a GitHub App
	// installation token or Actions' GITHUB_TOKEN). Empty makes anonymous calls,
	// which can only read public repositories.
	Token string
	// TokenEnv names the environment variable the token came from, so that a
	// rejected token can be reported without printing it.
	TokenEnv string
	// BaseURL is the REST API root: empty for github.com,
	// "https://HOST/api/v3/" for GitHub Enterprise Server, or a test server.
	// It must not carry credentials.
	BaseURL string
	// HTTPClient sends the requests; nil uses a client with a 30s timeout.
	HTTPClient *http.Client
	// Now is the clock for the list window and Retry-After; nil is time.Now.
	Now func() time.Time
	// ListWindow is how far back List follows pagination (by creation time);
	// zero is DefaultListWindow.
	ListWindow time.Duration
}

// Forge is the GitHub forge. It is safe for concurrent use.
type Forge struct {
	client   *gh.Client
	owner    string
	repo     string
	redact   *redact.Redactor
	hasToken bool
	tokenEnv string
	now      func() time.Time
	window   time.Duration
	// web is the repository's web address, https://github.com/<owner>/<repo> or its
	// GitHub Enterprise Server equivalent.
	web string
}

var _ forge.Forge = (*Forge)(nil)

// New returns a Forge for one repository.
func New(opts Options) (*Forge, error) {
	if opts.Owner == "" || opts.Repo == "" {
		return nil, errors.New("github: owner and repo are required")
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if opts.HTTPClient != nil {
		copied := *opts.HTTPClient
		hc = &copied
	}
	var base *url.URL
	if opts.BaseURL != "" {
		u, err := url.Parse(opts.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			// The URL is left out: it might be a mistyped token.
			return nil, errors.New("github: BaseURL must be an absolute http(s) URL")
		}
		if u.User != nil {
			return nil, errors.New("github: BaseURL must not carry credentials; pass the token in Options.Token")
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		base = u
	}
	if opts.Token != "" {
		// go-github's own token transport sets the header on every request, the hops
		// of a redirect to another host included; this one only toward the API.
		host := "api.github.com"
		if base != nil {
			host = base.Host
		}
		hc.Transport = &authTransport{host: host, token: opts.Token, next: hc.Transport}
	}
	client := gh.NewClient(hc)
	if base != nil {
		client.BaseURL = base
	}
	client.UserAgent = "gitmig"
	f := &Forge{
		client:   client,
		owner:    opts.Owner,
		repo:     opts.Repo,
		redact:   redact.New(opts.Token),
		hasToken: opts.Token != "",
		tokenEnv: opts.TokenEnv,
		now:      opts.Now,
		window:   opts.ListWindow,
		web:      webURL(client.BaseURL, opts.Owner, opts.Repo),
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.window <= 0 {
		f.window = DefaultListWindow
	}
	return f, nil
}

// authTransport authenticates the requests to the API's host, and no other: a
// redirect elsewhere goes without the token.
type authTransport struct {
	host  string
	token string
	next  http.RoundTripper
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	if req.URL.Host != t.host {
		return next.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+t.token)
	return next.RoundTrip(req)
}

// webURL derives the repository's web address from the REST API root: api.github.com
// serves github.com, and GitHub Enterprise Server serves its API under /api/v3/.
func webURL(api *url.URL, owner, repo string) string {
	host := api.Scheme + "://" + api.Host
	if api.Host == "api.github.com" {
		host = "https://github.com"
	}
	return host + "/" + url.PathEscape(owner) + "/" + url.PathEscape(repo)
}

// HeadURL is GitHub's search for the pull request of a head branch: the same address
// before and after the pull request is opened.
func (f *Forge) HeadURL(head string) string {
	return f.web + "/pulls?q=" + url.QueryEscape("is:pr head:"+head)
}

// List returns the pull requests whose head branch starts with step.BranchPrefix
// and lives in this repository, newest first.
//
// It reads the pull requests of all states sorted by creation, newest first, and
// follows pagination only while a page is full and its oldest pull request was
// created within the list window, so a normal pass makes one call however long
// the repository's history. A pull request older than the window may therefore be
// missing on a busy repository; Create adopts it again if it is still open.
func (f *Forge) List(ctx context.Context) ([]forge.PullRequest, error) {
	cutoff := f.now().Add(-f.window)
	opts := &gh.PullRequestListOptions{
		State:       "all",
		Sort:        "created",
		Direction:   "desc",
		ListOptions: gh.ListOptions{PerPage: perPage},
	}
	var out []forge.PullRequest
	for {
		page, resp, err := f.client.PullRequests.List(ctx, f.owner, f.repo, opts)
		if err != nil {
			return nil, f.fail(ctx, fmt.Sprintf("list pull requests of %s/%s", f.owner, f.repo), 0, resp, err)
		}
		for _, p := range page {
			if f.ours(p) {
				out = append(out, convert(p))
			}
		}
		if len(page) < perPage || resp.NextPage == 0 {
			return out, nil
		}
		if oldest := page[len(page)-1].GetCreatedAt(); !oldest.After(cutoff) {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// ours reports whether p is one of gitmig's: its head branch has gitmig's prefix
// and is in this repository. A fork can name a branch gitmig/..., and such a pull
// request must not be mistaken for a step (closing it would abort a migration).
func (f *Forge) ours(p *gh.PullRequest) bool {
	head := p.GetHead()
	if !strings.HasPrefix(head.GetRef(), step.BranchPrefix) {
		return false
	}
	return strings.EqualFold(head.GetRepo().GetFullName(), f.owner+"/"+f.repo)
}

// Create opens a pull request and then adds its labels, in that order, so a
// reviewer sees two actions and an interrupted pass leaves at worst an unlabelled
// pull request. When GitHub answers that a pull request already exists for the
// head branch, Create adopts the open one instead of failing, and still adds the
// labels it lacks.
//
// If the labels cannot be added, Create returns the pull request together with an
// error that names it, so the caller knows it exists and the next pass adopts it.
func (f *Forge) Create(ctx context.Context, pr forge.NewPullRequest) (forge.PullRequest, error) {
	op := fmt.Sprintf("create pull request for %s", pr.Head)
	created, resp, err := f.client.PullRequests.Create(ctx, f.owner, f.repo, &gh.NewPullRequest{
		Title: gh.String(pr.Title),
		Head:  gh.String(pr.Head),
		Base:  gh.String(pr.Base),
		Body:  gh.String(pr.Body),
	})
	var out forge.PullRequest
	switch {
	case err == nil:
		out = convert(created)
	case alreadyExists(err):
		out, err = f.findOpen(ctx, pr.Head)
		if err != nil {
			return forge.PullRequest{}, fmt.Errorf("github: %s: GitHub reports one already exists: %w", op, err)
		}
		out.Found = true
	default:
		return forge.PullRequest{}, f.fail(ctx, op, 0, resp, err)
	}

	missing := make([]string, 0, len(pr.Labels))
	for _, l := range pr.Labels {
		if !out.HasLabel(l) {
			missing = append(missing, l)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	labels, err := f.addLabels(ctx, out.Number, missing)
	if err != nil {
		return out, fmt.Errorf("github: pull request #%d (%s) exists but its labels were not added; the next pass adopts it: %w",
			out.Number, out.URL, err)
	}
	out.Labels = labels
	return out, nil
}

// alreadyExists reports GitHub's documented validation error for a second pull
// request on the same head branch: 422 with "A pull request already exists for
// owner:branch." among the errors.
func alreadyExists(err error) bool {
	var e *gh.ErrorResponse
	if !errors.As(err, &e) || e.Response == nil || e.Response.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	const msg = "a pull request already exists"
	if strings.Contains(strings.ToLower(e.Message), msg) {
		return true
	}
	for _, d := range e.Errors {
		if strings.Contains(strings.ToLower(d.Message), msg) {
			return true
		}
	}
	return false
}

// findOpen returns the open pull request whose head is branch in this repository.
func (f *Forge) findOpen(ctx context.Context, branch string) (forge.PullRequest, error) {
	op := fmt.Sprintf("find the open pull request for %s", branch)
	page, resp, err := f.client.PullRequests.List(ctx, f.owner, f.repo, &gh.PullRequestListOptions{
		State: "open",
		Head:  f.owner + ":" + branch,
	})
	if err != nil {
		return forge.PullRequest{}, f.fail(ctx, op, 0, resp, err)
	}
	for _, p := range page {
		if p.GetHead().GetRef() == branch {
			return convert(p), nil
		}
	}
	return forge.PullRequest{}, fmt.Errorf("github: %s: none is open", op)
}

// UpdateBody replaces a pull request's description.
func (f *Forge) UpdateBody(ctx context.Context, number int, body string) error {
	_, resp, err := f.client.PullRequests.Edit(ctx, f.owner, f.repo, number, &gh.PullRequest{Body: gh.String(body)})
	if err != nil {
		return f.fail(ctx, "update the body of", number, resp, err)
	}
	return nil
}

// AddLabels adds labels to a pull request; GitHub keeps the ones it has.
func (f *Forge) AddLabels(ctx context.Context, number int, labels ...string) error {
	if len(labels) == 0 {
		return nil
	}
	_, err := f.addLabels(ctx, number, labels)
	return err
}

// addLabels adds labels and returns all the labels the pull request now has.
func (f *Forge) addLabels(ctx context.Context, number int, labels []string) ([]string, error) {
	got, resp, err := f.client.Issues.AddLabelsToIssue(ctx, f.owner, f.repo, number, labels)
	if err != nil {
		return nil, f.fail(ctx, "add labels to", number, resp, err)
	}
	names := make([]string, 0, len(got))
	for _, l := range got {
		names = append(names, l.GetName())
	}
	return names, nil
}

// Comment adds a comment to a pull request.
func (f *Forge) Comment(ctx context.Context, number int, body string) error {
	_, resp, err := f.client.Issues.CreateComment(ctx, f.owner, f.repo, number, &gh.IssueComment{Body: gh.String(body)})
	if err != nil {
		return f.fail(ctx, "comment on", number, resp, err)
	}
	return nil
}

// Close comments why and then closes a pull request without merging it.
//
// It is safe to retry: a pull request already closed is left alone, and the
// comment is not posted again when it is already the pull request's last comment
// (a pass that commented and then failed to close). That costs a read of the pull
// request and of its last comment, which is cheap next to a reviewer reading the
// same explanation twice. Closing a merged pull request is an error.
func (f *Forge) Close(ctx context.Context, number int, comment string) error {
	p, resp, err := f.client.PullRequests.Get(ctx, f.owner, f.repo, number)
	if err != nil {
		return f.fail(ctx, "read", number, resp, err)
	}
	switch {
	case p.MergedAt != nil:
		return fmt.Errorf("github: close pull request #%d: it is already merged", number)
	case p.GetState() == "closed":
		return nil
	}
	if comment != "" {
		last, err := f.lastComment(ctx, number, p.GetComments())
		if err != nil {
			return err
		}
		if last != comment {
			if err := f.Comment(ctx, number, comment); err != nil {
				return err
			}
		}
	}
	_, resp, err = f.client.PullRequests.Edit(ctx, f.owner, f.repo, number, &gh.PullRequest{State: gh.String("closed")})
	if err != nil {
		return f.fail(ctx, "close", number, resp, err)
	}
	return nil
}

// lastComment returns the body of the last of count issue comments, which GitHub
// lists oldest first: with one comment per page, it is page count.
func (f *Forge) lastComment(ctx context.Context, number, count int) (string, error) {
	if count == 0 {
		return "", nil
	}
	comments, resp, err := f.client.Issues.ListComments(ctx, f.owner, f.repo, number, &gh.IssueListCommentsOptions{
		ListOptions: gh.ListOptions{PerPage: 1, Page: count},
	})
	if err != nil {
		return "", f.fail(ctx, "read the comments of", number, resp, err)
	}
	if len(comments) == 0 {
		return "", nil
	}
	return comments[len(comments)-1].GetBody(), nil
}

// Merge merges a pull request with a merge commit and returns it as merged.
// A pull request that a previous, interrupted pass already merged is returned as
// it is, so retrying converges.
func (f *Forge) Merge(ctx context.Context, number int, head string) (forge.PullRequest, error) {
	// GitHub merges only while the head is sha, and answers 409 otherwise.
	result, resp, mergeErr := f.client.PullRequests.Merge(ctx, f.owner, f.repo, number, "", &gh.PullRequestOptions{MergeMethod: "merge", SHA: head})
	if mergeErr != nil && isStatus(resp, http.StatusConflict) && head != "" {
		return forge.PullRequest{}, fmt.Errorf("github: merge pull request #%d at %s: %w", number, head, forge.ErrHeadMoved)
	}
	if mergeErr != nil && !isStatus(resp, http.StatusMethodNotAllowed) {
		return forge.PullRequest{}, f.fail(ctx, "merge", number, resp, mergeErr)
	}
	p, getResp, err := f.client.PullRequests.Get(ctx, f.owner, f.repo, number)
	if err != nil {
		return forge.PullRequest{}, f.fail(ctx, "read", number, getResp, err)
	}
	out := convert(p)
	if mergeErr != nil {
		// 405: GitHub would not merge; fine only if it is merged already.
		if out.State == forge.StateMerged {
			return out, nil
		}
		return forge.PullRequest{}, f.fail(ctx, "merge", number, resp, mergeErr)
	}
	if out.State != forge.StateMerged && result.GetMerged() {
		// The merge answer is authoritative; the read may lag behind it.
		out.State = forge.StateMerged
		out.MergeCommit = result.GetSHA()
		out.MergedAt = f.now()
	}
	return out, nil
}

// SetStatus sets a commit status on sha. GitHub accepts descriptions of at most
// 140 characters, so a longer one is shortened rather than rejected.
func (f *Forge) SetStatus(ctx context.Context, sha string, status forge.Status) error {
	if sha == "" {
		return errors.New("github: set commit status: no commit")
	}
	s := &gh.RepoStatus{
		State:   gh.String(string(status.State)),
		Context: gh.String(status.Context),
	}
	if status.Description != "" {
		s.Description = gh.String(text.Truncate(status.Description, maxDescription))
	}
	if status.TargetURL != "" {
		s.TargetURL = gh.String(status.TargetURL)
	}
	_, resp, err := f.client.Repositories.CreateStatus(ctx, f.owner, f.repo, sha, s)
	if err != nil {
		return f.fail(ctx, fmt.Sprintf("set commit status %q on %s", status.Context, sha), 0, resp, err)
	}
	return nil
}

// Statuses returns the latest commit status of each context on sha, from GitHub's
// combined status, following its pages.
func (f *Forge) Statuses(ctx context.Context, sha string) ([]forge.Status, error) {
	if sha == "" {
		return nil, errors.New("github: read commit statuses: no commit")
	}
	opts := &gh.ListOptions{PerPage: perPage}
	out := []forge.Status{}
	for {
		combined, resp, err := f.client.Repositories.GetCombinedStatus(ctx, f.owner, f.repo, sha, opts)
		if err != nil {
			return nil, f.fail(ctx, fmt.Sprintf("read the commit statuses of %s", sha), 0, resp, err)
		}
		for _, st := range combined.Statuses {
			out = append(out, forge.Status{
				State:       forge.StatusState(st.GetState()),
				Context:     st.GetContext(),
				Description: st.GetDescription(),
				TargetURL:   st.GetTargetURL(),
			})
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	slices.SortFunc(out, func(a, b forge.Status) int { return strings.Compare(a.Context, b.Context) })
	return out, nil
}

// Comments returns a pull request's comments (its issue comments, not review
// comments on lines), oldest first, following their pages.
func (f *Forge) Comments(ctx context.Context, number int) ([]forge.Comment, error) {
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: perPage}}
	out := []forge.Comment{}
	for {
		page, resp, err := f.client.Issues.ListComments(ctx, f.owner, f.repo, number, opts)
		if err != nil {
			return nil, f.fail(ctx, "read the comments of", number, resp, err)
		}
		for _, c := range page {
			out = append(out, forge.Comment{Author: c.GetUser().GetLogin(), Body: c.GetBody(), CreatedAt: c.GetCreatedAt().Time})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// convert maps a go-github pull request to gitmig's view of it.
func convert(p *gh.PullRequest) forge.PullRequest {
	out := forge.PullRequest{
		Number:    p.GetNumber(),
		Title:     p.GetTitle(),
		Body:      p.GetBody(),
		Head:      p.GetHead().GetRef(),
		HeadSHA:   p.GetHead().GetSHA(),
		Base:      p.GetBase().GetRef(),
		URL:       p.GetHTMLURL(),
		CreatedAt: p.GetCreatedAt().Time,
		ClosedAt:  p.GetClosedAt().Time,
	}
	for _, l := range p.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	switch {
	case p.MergedAt != nil:
		out.State = forge.StateMerged
		out.MergedAt = p.GetMergedAt().Time
		// For an open pull request merge_commit_sha is GitHub's test merge, not a
		// commit on the base branch, so it is kept only once merged.
		out.MergeCommit = p.GetMergeCommitSHA()
	case p.GetState() == "closed":
		out.State = forge.StateClosed
	default:
		out.State = forge.StateOpen
	}
	return out
}
