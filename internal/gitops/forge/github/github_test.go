package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/step"
)

const (
	owner     = "example"
	repo      = "fleet"
	testToken = "ghp_s3cr3tT0kenThatMustNeverLeak0000000"
	tokenEnv  = "GITMIG_GITHUB_TOKEN"
	branch    = "gitmig/orc8r-edge-to-cloud-20260310-1200/1-deploy"
	headSHA   = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	mergeSHA  = "e5bd3914e2e596debea16f433f57875b5b90bcd6"
)

// now is the fixed clock of every test.
var now = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// tb is the part of testing.TB the registry uses, so that its own failures can
// be tested with a recorder.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Cleanup(func())
}

// registry is an httptest server that answers only the calls a test registered,
// in the order it registered them, in the style of cli/cli's httpmock: a call
// that is not the next stub fails the test at once (and gets a 500, so the client
// fails too), and a stub still unused when the test ends fails it at cleanup. So
// every test asserts both which calls were made and their order.
type registry struct {
	t     tb
	srv   *httptest.Server
	mu    sync.Mutex
	stubs []*stub
	next  int
	calls []string
}

// stub answers one call: method and path, and optionally the exact query and a
// JSON body the request must equal.
type stub struct {
	method, path string
	query        url.Values
	body         string
	status       int
	header       http.Header
	reply        string
}

func (s *stub) String() string {
	c := s.method + " " + s.path
	if s.query != nil {
		c += "?" + s.query.Encode()
	}
	return c
}

func newRegistry(t tb) *registry {
	r := &registry{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.srv.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, s := range r.stubs[r.next:] {
			t.Errorf("stub registered but never called: %s", s)
		}
	})
	return r
}

// on registers the next expected call; it answers 200 with an empty object
// unless reply says otherwise.
func (r *registry) on(method, path string) *stub {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &stub{method: method, path: path, status: http.StatusOK, header: http.Header{}, reply: "{}"}
	r.stubs = append(r.stubs, s)
	return s
}

func (s *stub) withQuery(q string) *stub {
	v, err := url.ParseQuery(q)
	if err != nil {
		panic(err)
	}
	s.query = v
	return s
}

func (s *stub) withBody(jsonBody string) *stub {
	s.body = jsonBody
	return s
}

// respond sets the answer; headers come as name, value pairs.
func (s *stub) respond(status int, body string, headers ...string) {
	s.status = status
	s.reply = body
	for i := 0; i+1 < len(headers); i += 2 {
		s.header.Set(headers[i], headers[i+1])
	}
}

func (r *registry) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	call := req.Method + " " + req.URL.Path
	if req.URL.RawQuery != "" {
		call += "?" + req.URL.Query().Encode()
	}

	r.mu.Lock()
	r.calls = append(r.calls, call)
	var s *stub
	if r.next < len(r.stubs) {
		s = r.stubs[r.next]
		r.next++
	}
	r.mu.Unlock()

	fail := func(format string, args ...any) {
		r.t.Errorf(format, args...)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"message":"unexpected call in test"}`)
	}
	if got := req.Header.Get("Authorization"); got != "Bearer "+testToken {
		r.t.Errorf("%s: Authorization header %q, want the bearer token", call, got)
	}
	if strings.Contains(req.URL.String(), testToken) {
		r.t.Errorf("%s: the token is in the URL", call)
	}
	switch {
	case s == nil:
		fail("unexpected call: %s", call)
		return
	case req.Method != s.method || req.URL.Path != s.path:
		fail("call %d: got %s, want %s", len(r.calls), call, s)
		return
	case s.query != nil && !reflect.DeepEqual(req.URL.Query(), s.query):
		fail("call %d: got query %s, want %s", len(r.calls), call, s)
		return
	case s.body != "":
		var got, want any
		if err := json.Unmarshal(body, &got); err != nil {
			fail("%s: request body is not JSON: %v: %s", call, err, body)
			return
		}
		if err := json.Unmarshal([]byte(s.body), &want); err != nil {
			panic(fmt.Sprintf("stub %s: bad JSON: %v", s, err))
		}
		if !reflect.DeepEqual(got, want) {
			fail("%s: request body\n got %s\nwant %s", call, body, s.body)
			return
		}
	}
	for k, v := range s.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-GitHub-Request-Id", "CAFE:1234:5678:9ABC:DEF0")
	w.WriteHeader(s.status)
	io.WriteString(w, s.reply)
}

func (r *registry) madeCalls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func newForge(t *testing.T, r *registry) *Forge {
	t.Helper()
	f, err := New(Options{
		Owner:    owner,
		Repo:     repo,
		Token:    testToken,
		TokenEnv: tokenEnv,
		BaseURL:  r.srv.URL,
		Now:      func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// checkErr fails unless err is an error that leaks neither the token nor a URL.
func checkErr(t *testing.T, err error, srv *httptest.Server) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error leaks the token: %v", err)
	}
	if strings.Contains(err.Error(), srv.URL) || strings.Contains(err.Error(), "/repos/") {
		t.Errorf("error leaks a URL: %v", err)
	}
}

// pr describes a pull request fixture.
type pr struct {
	number  int
	ref     string
	state   string // open or closed
	merged  bool
	created time.Time
	labels  []string
	// headRepo is the head branch's repository, owner/repo; empty is this one.
	headRepo string
	comments int
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// json renders p as GitHub documents a pull request ("Get a pull request").
func (p pr) json() map[string]any {
	if p.created.IsZero() {
		p.created = now.Add(-time.Hour)
	}
	if p.state == "" {
		p.state = "open"
	}
	headRepo := p.headRepo
	if headRepo == "" {
		headRepo = owner + "/" + repo
	}
	headOwner, headName, _ := strings.Cut(headRepo, "/")
	repoJSON := func(full string) map[string]any {
		o, n, _ := strings.Cut(full, "/")
		return map[string]any{
			"id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": n, "full_name": full,
			"owner":    map[string]any{"login": o, "id": 1, "type": "Organization"},
			"private":  false,
			"html_url": "https://github.com/" + full,
			"url":      "https://api.github.com/repos/" + full,
		}
	}
	labels := []any{}
	for i, l := range p.labels {
		labels = append(labels, map[string]any{
			"id": 208045946 + i, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=", "name": l,
			"url":   "https://api.github.com/repos/example/fleet/labels/" + l,
			"color": "f29513", "default": false, "description": "",
		})
	}
	var closedAt, mergedAt any
	if p.state == "closed" || p.merged {
		closedAt = ts(p.created.Add(30 * time.Minute))
	}
	if p.merged {
		mergedAt = closedAt
		p.state = "closed"
	}
	n := strconv.Itoa(p.number)
	return map[string]any{
		"url":                 "https://api.github.com/repos/example/fleet/pulls/" + n,
		"id":                  1000 + p.number,
		"node_id":             "MDExOlB1bGxSZXF1ZXN0MQ==",
		"html_url":            "https://github.com/example/fleet/pull/" + n,
		"diff_url":            "https://github.com/example/fleet/pull/" + n + ".diff",
		"issue_url":           "https://api.github.com/repos/example/fleet/issues/" + n,
		"number":              p.number,
		"state":               p.state,
		"locked":              false,
		"title":               "gitmig: move orc8r edge→cloud [1/4 deploy]",
		"user":                map[string]any{"login": "gitmig-bot", "id": 2, "type": "Bot"},
		"body":                "Step 1 of 4.",
		"labels":              labels,
		"milestone":           nil,
		"created_at":          ts(p.created),
		"updated_at":          ts(p.created.Add(time.Minute)),
		"closed_at":           closedAt,
		"merged_at":           mergedAt,
		"merge_commit_sha":    mergeSHA,
		"assignee":            nil,
		"requested_reviewers": []any{},
		"draft":               false,
		"head": map[string]any{
			"label": headOwner + ":" + p.ref, "ref": p.ref, "sha": headSHA,
			"user": map[string]any{"login": headOwner}, "repo": repoJSON(headOwner + "/" + headName),
		},
		"base": map[string]any{
			"label": "example:main", "ref": "main", "sha": "0123456789abcdef0123456789abcdef01234567",
			"user": map[string]any{"login": owner}, "repo": repoJSON(owner + "/" + repo),
		},
		"author_association": "OWNER",
		"comments":           p.comments,
		"review_comments":    0,
		"commits":            1,
		"additions":          12,
		"deletions":          0,
		"changed_files":      2,
	}
}

func (p pr) String() string { return encode(p.json()) }

func encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func list(prs ...pr) string {
	out := make([]any, 0, len(prs))
	for _, p := range prs {
		out = append(out, p.json())
	}
	return encode(out)
}

const listQuery = "state=all&sort=created&direction=desc&per_page=100"

func TestListFiltersAndMaps(t *testing.T) {
	r := newRegistry(t)
	r.on("GET", "/repos/example/fleet/pulls").withQuery(listQuery).respond(200, list(
		pr{number: 12, ref: "gitmig/a-edge-to-cloud-1/2-route", labels: []string{"gitmig"}},
		pr{number: 11, ref: "renovate/golang-1.x"},
		pr{number: 10, ref: "gitmig/a-edge-to-cloud-1/1-deploy", merged: true, labels: []string{"gitmig"}},
		pr{number: 9, ref: "gitmig/b-fog-to-cloud-1/1-deploy", state: "closed"},
		// A fork's branch that only looks like gitmig's: never a step.
		pr{number: 8, ref: "gitmig/a-edge-to-cloud-1/3-flip", headRepo: "mallory/fleet"},
	))
	f := newForge(t, r)

	got, err := f.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	created := now.Add(-time.Hour)
	closed := created.Add(30 * time.Minute)
	want := []forge.PullRequest{{
		Number: 12, Title: "gitmig: move orc8r edge→cloud [1/4 deploy]", Body: "Step 1 of 4.",
		Head: "gitmig/a-edge-to-cloud-1/2-route", HeadSHA: headSHA, Base: "main",
		State: forge.StateOpen, Labels: []string{"gitmig"}, URL: "https://github.com/example/fleet/pull/12",
		CreatedAt: created,
		// No MergeCommit: an open pull request's merge_commit_sha is a test merge.
	}, {
		Number: 10, Title: "gitmig: move orc8r edge→cloud [1/4 deploy]", Body: "Step 1 of 4.",
		Head: "gitmig/a-edge-to-cloud-1/1-deploy", HeadSHA: headSHA, Base: "main",
		State: forge.StateMerged, Labels: []string{"gitmig"}, URL: "https://github.com/example/fleet/pull/10",
		MergeCommit: mergeSHA, CreatedAt: created, MergedAt: closed, ClosedAt: closed,
	}, {
		Number: 9, Title: "gitmig: move orc8r edge→cloud [1/4 deploy]", Body: "Step 1 of 4.",
		Head: "gitmig/b-fog-to-cloud-1/1-deploy", HeadSHA: headSHA, Base: "main",
		State: forge.StateClosed, URL: "https://github.com/example/fleet/pull/9",
		CreatedAt: created, ClosedAt: closed,
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List:\n got %+v\nwant %+v", got, want)
	}
}

// fullPage returns perPage pull requests created one hour apart, newest first,
// starting at newest, numbered down from first.
func fullPage(first int, newest time.Time) []pr {
	page := make([]pr, perPage)
	for i := range page {
		page[i] = pr{number: first - i, ref: fmt.Sprintf("gitmig/s%d-edge-to-cloud-1/1-deploy", first-i), created: newest.Add(-time.Duration(i) * time.Hour)}
		if i%2 == 1 {
			page[i].ref = fmt.Sprintf("feature/%d", first-i)
		}
	}
	return page
}

func TestListPaginationStopsAtWindow(t *testing.T) {
	r := newRegistry(t)
	link := func(page int) string {
		return fmt.Sprintf(`<%s/repositories/1296269/pulls?state=all&sort=created&direction=desc&per_page=100&page=%d>; rel="next", <%s/repositories/1296269/pulls?state=all&page=40>; rel="last"`,
			r.srv.URL, page, r.srv.URL)
	}
	// Page 1 is full and its oldest is within the 30-day window: page 2 is read.
	// Page 2 is full, but its oldest is older than the window: page 3, though
	// linked, is never asked for (the registry would fail the test).
	page1 := fullPage(1000, now.Add(-time.Hour))
	page2 := fullPage(900, now.Add(-29*24*time.Hour))
	r.on("GET", "/repos/example/fleet/pulls").withQuery(listQuery).respond(200, list(page1...), "Link", link(2))
	r.on("GET", "/repos/example/fleet/pulls").withQuery(listQuery+"&page=2").respond(200, list(page2...), "Link", link(3))
	f := newForge(t, r)

	got, err := f.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != perPage {
		t.Errorf("List returned %d pull requests, want %d (half of each page)", len(got), perPage)
	}
	for _, p := range got {
		if !strings.HasPrefix(p.Head, step.BranchPrefix) {
			t.Errorf("List returned %s", p.Head)
		}
	}
	if got[0].Number != 1000 || got[len(got)-1].Number != 802 {
		t.Errorf("List returned #%d..#%d, want #1000..#802", got[0].Number, got[len(got)-1].Number)
	}
}

func TestListWindowOption(t *testing.T) {
	r := newRegistry(t)
	// A full page whose oldest is about four days old: with a 2-day window, one call.
	r.on("GET", "/repos/example/fleet/pulls").withQuery(listQuery).respond(200, list(fullPage(100, now.Add(-time.Hour))...),
		"Link", `<`+r.srv.URL+`/repositories/1/pulls?page=2>; rel="next"`)
	f, err := New(Options{Owner: owner, Repo: repo, Token: testToken, BaseURL: r.srv.URL,
		Now: func() time.Time { return now }, ListWindow: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.List(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCreate(t *testing.T) {
	r := newRegistry(t)
	r.on("POST", "/repos/example/fleet/pulls").
		withBody(`{"title":"gitmig: move orc8r edge→cloud [1/4 deploy]","head":"`+branch+`","base":"main","body":"Step 1 of 4."}`).
		respond(201, pr{number: 7, ref: branch}.String())
	r.on("POST", "/repos/example/fleet/issues/7/labels").
		withBody(`["gitmig","gitmig/deploy"]`).
		respond(200, `[{"id":1,"name":"gitmig","color":"ededed","default":false},{"id":2,"name":"gitmig/deploy","color":"ededed","default":false}]`)
	f := newForge(t, r)

	got, err := f.Create(context.Background(), forge.NewPullRequest{
		Title: "gitmig: move orc8r edge→cloud [1/4 deploy]", Body: "Step 1 of 4.",
		Head: branch, Base: "main", Labels: []string{"gitmig", "gitmig/deploy"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != 7 || got.State != forge.StateOpen || got.Head != branch || got.URL != "https://github.com/example/fleet/pull/7" {
		t.Errorf("Create returned %+v", got)
	}
	if !reflect.DeepEqual(got.Labels, []string{"gitmig", "gitmig/deploy"}) {
		t.Errorf("labels %v", got.Labels)
	}
	// The pull request first, then its labels: two visible actions, in order.
	want := []string{"POST /repos/example/fleet/pulls", "POST /repos/example/fleet/issues/7/labels"}
	if calls := r.madeCalls(); !reflect.DeepEqual(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
}

// alreadyExistsJSON is GitHub's answer to a second pull request on a head branch.
const alreadyExistsJSON = `{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for example:` + branch + `."}],"documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request","status":"422"}`

func TestCreateAdoptsExisting(t *testing.T) {
	r := newRegistry(t)
	r.on("POST", "/repos/example/fleet/pulls").respond(422, alreadyExistsJSON)
	// A pass that died between creating the pull request and labelling it.
	r.on("GET", "/repos/example/fleet/pulls").withQuery("head=example:"+branch+"&state=open").
		respond(200, list(pr{number: 5, ref: branch}))
	r.on("POST", "/repos/example/fleet/issues/5/labels").withBody(`["gitmig"]`).
		respond(200, `[{"id":1,"name":"gitmig","color":"ededed","default":false}]`)
	f := newForge(t, r)

	got, err := f.Create(context.Background(), forge.NewPullRequest{Title: "t", Body: "b", Head: branch, Base: "main", Labels: []string{"gitmig"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != 5 || !got.HasLabel("gitmig") {
		t.Errorf("Create adopted %+v, want #5 labelled gitmig", got)
	}
}

func TestCreateAdoptsLabelledWithoutRelabelling(t *testing.T) {
	r := newRegistry(t)
	r.on("POST", "/repos/example/fleet/pulls").respond(422, alreadyExistsJSON)
	r.on("GET", "/repos/example/fleet/pulls").withQuery("head=example:"+branch+"&state=open").
		respond(200, list(pr{number: 5, ref: branch, labels: []string{"gitmig"}}))
	f := newForge(t, r)

	got, err := f.Create(context.Background(), forge.NewPullRequest{Title: "t", Head: branch, Base: "main", Labels: []string{"gitmig"}})
	if err != nil || got.Number != 5 {
		t.Fatalf("Create = %+v, %v; want #5", got, err)
	}
}

func TestCreateOtherValidationErrorIsNotAdopted(t *testing.T) {
	r := newRegistry(t)
	r.on("POST", "/repos/example/fleet/pulls").respond(422,
		`{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"No commits between main and `+branch+`"}],"documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}`)
	f := newForge(t, r)

	_, err := f.Create(context.Background(), forge.NewPullRequest{Title: "t", Head: branch, Base: "main"})
	checkErr(t, err, r.srv)
	if !strings.Contains(err.Error(), "422") || !strings.Contains(err.Error(), "No commits between") {
		t.Errorf("error %q should carry GitHub's status and reason", err)
	}
}

func TestCreateLabelFailureNamesThePullRequest(t *testing.T) {
	r := newRegistry(t)
	r.on("POST", "/repos/example/fleet/pulls").respond(201, pr{number: 7, ref: branch}.String())
	r.on("POST", "/repos/example/fleet/issues/7/labels").respond(403,
		`{"message":"API rate limit exceeded for user ID 2.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`,
		"X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(now.Add(time.Hour).Unix(), 10))
	f := newForge(t, r)

	got, err := f.Create(context.Background(), forge.NewPullRequest{Title: "t", Head: branch, Base: "main", Labels: []string{"gitmig"}})
	checkErr(t, err, r.srv)
	if !strings.Contains(err.Error(), "#7") {
		t.Errorf("error %q does not say pull request #7 exists", err)
	}
	var rl *forge.RateLimitError
	if !errors.As(err, &rl) {
		t.Errorf("error %q is not a rate limit", err)
	}
	if got.Number != 7 {
		t.Errorf("Create returned %+v with the error, want #7", got)
	}
}

func TestAddLabels(t *testing.T) {
	r := newRegistry(t)
	r.on("POST", "/repos/example/fleet/issues/7/labels").withBody(`["gitmig","gitmig/rollback"]`).
		respond(200, `[{"id":1,"name":"gitmig"},{"id":3,"name":"gitmig/rollback"}]`)
	f := newForge(t, r)

	if err := f.AddLabels(context.Background(), 7, "gitmig", "gitmig/rollback"); err != nil {
		t.Fatal(err)
	}
	// No labels, no call.
	if err := f.AddLabels(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
}

func TestUpdateBody(t *testing.T) {
	r := newRegistry(t)
	r.on("PATCH", "/repos/example/fleet/pulls/7").withBody(`{"body":"new body"}`).
		respond(200, pr{number: 7, ref: branch}.String())
	f := newForge(t, r)

	if err := f.UpdateBody(context.Background(), 7, "new body"); err != nil {
		t.Fatal(err)
	}
}

func TestComment(t *testing.T) {
	r := newRegistry(t)
	r.on("POST", "/repos/example/fleet/issues/7/comments").withBody(`{"body":"Gate passed."}`).
		respond(201, `{"id":1,"body":"Gate passed.","html_url":"https://github.com/example/fleet/pull/7#issuecomment-1"}`)
	f := newForge(t, r)

	if err := f.Comment(context.Background(), 7, "Gate passed."); err != nil {
		t.Fatal(err)
	}
}

func TestClose(t *testing.T) {
	const why = "Aborted: step 1 was not applied within 30m."
	r := newRegistry(t)
	r.on("GET", "/repos/example/fleet/pulls/7").respond(200, pr{number: 7, ref: branch, comments: 2}.String())
	r.on("GET", "/repos/example/fleet/issues/7/comments").withQuery("per_page=1&page=2").
		respond(200, `[{"id":2,"body":"LGTM"}]`)
	r.on("POST", "/repos/example/fleet/issues/7/comments").withBody(`{"body":"`+why+`"}`).respond(201, `{"id":3}`)
	r.on("PATCH", "/repos/example/fleet/pulls/7").withBody(`{"state":"closed"}`).
		respond(200, pr{number: 7, ref: branch, state: "closed"}.String())
	f := newForge(t, r)

	if err := f.Close(context.Background(), 7, why); err != nil {
		t.Fatal(err)
	}
}

func TestCloseRetryDoesNotCommentTwice(t *testing.T) {
	const why = "Aborted."
	r := newRegistry(t)
	// The previous pass commented, then failed to close.
	r.on("GET", "/repos/example/fleet/pulls/7").respond(200, pr{number: 7, ref: branch, comments: 3}.String())
	r.on("GET", "/repos/example/fleet/issues/7/comments").withQuery("per_page=1&page=3").
		respond(200, `[{"id":3,"body":"`+why+`"}]`)
	r.on("PATCH", "/repos/example/fleet/pulls/7").withBody(`{"state":"closed"}`).
		respond(200, pr{number: 7, ref: branch, state: "closed"}.String())
	f := newForge(t, r)

	if err := f.Close(context.Background(), 7, why); err != nil {
		t.Fatal(err)
	}
}

func TestCloseAlreadyClosedOrMerged(t *testing.T) {
	r := newRegistry(t)
	r.on("GET", "/repos/example/fleet/pulls/7").respond(200, pr{number: 7, ref: branch, state: "closed"}.String())
	r.on("GET", "/repos/example/fleet/pulls/8").respond(200, pr{number: 8, ref: branch, merged: true}.String())
	f := newForge(t, r)

	if err := f.Close(context.Background(), 7, "why"); err != nil {
		t.Errorf("closing a closed pull request: %v", err)
	}
	err := f.Close(context.Background(), 8, "why")
	checkErr(t, err, r.srv)
	if !strings.Contains(err.Error(), "merged") {
		t.Errorf("closing a merged pull request: %v", err)
	}
}

func TestMerge(t *testing.T) {
	r := newRegistry(t)
	r.on("PUT", "/repos/example/fleet/pulls/7/merge").withBody(`{"merge_method":"merge"}`).
		respond(200, `{"sha":"`+mergeSHA+`","merged":true,"message":"Pull Request successfully merged"}`)
	r.on("GET", "/repos/example/fleet/pulls/7").respond(200, pr{number: 7, ref: branch, merged: true, labels: []string{"gitmig"}}.String())
	f := newForge(t, r)

	got, err := f.Merge(context.Background(), 7, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != 7 || got.State != forge.StateMerged || got.MergeCommit != mergeSHA || got.MergedAt.IsZero() {
		t.Errorf("Merge returned %+v", got)
	}
}

// TestMergeOnlyTheCheckedHead: gitmig merges the head it checked, never a commit
// pushed after it; GitHub's merge takes the sha and answers 409 when the head moved.
func TestMergeOnlyTheCheckedHead(t *testing.T) {
	r := newRegistry(t)
	r.on("PUT", "/repos/example/fleet/pulls/7/merge").withBody(`{"merge_method":"merge","sha":"`+headSHA+`"}`).
		respond(200, `{"sha":"`+mergeSHA+`","merged":true,"message":"Pull Request successfully merged"}`)
	r.on("GET", "/repos/example/fleet/pulls/7").respond(200, pr{number: 7, ref: branch, merged: true}.String())
	r.on("PUT", "/repos/example/fleet/pulls/8/merge").withBody(`{"merge_method":"merge","sha":"`+headSHA+`"}`).
		respond(409, `{"message":"Head branch was modified. Review and try the merge again.","documentation_url":"https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"}`)
	f := newForge(t, r)

	if got, err := f.Merge(context.Background(), 7, headSHA); err != nil || got.State != forge.StateMerged {
		t.Errorf("Merge(7, head) = %+v, %v; want it merged", got, err)
	}
	_, err := f.Merge(context.Background(), 8, headSHA)
	if !errors.Is(err, forge.ErrHeadMoved) {
		t.Errorf("Merge(8) after the head moved: %v; want ErrHeadMoved", err)
	}
}

func TestMergeRetryAfterMerged(t *testing.T) {
	r := newRegistry(t)
	r.on("PUT", "/repos/example/fleet/pulls/7/merge").respond(405,
		`{"message":"Pull Request is not mergeable","documentation_url":"https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"}`)
	r.on("GET", "/repos/example/fleet/pulls/7").respond(200, pr{number: 7, ref: branch, merged: true}.String())
	r.on("PUT", "/repos/example/fleet/pulls/8/merge").respond(405,
		`{"message":"Pull Request is not mergeable","documentation_url":"https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"}`)
	r.on("GET", "/repos/example/fleet/pulls/8").respond(200, pr{number: 8, ref: branch}.String())
	f := newForge(t, r)

	// Merged by an earlier, interrupted pass: converges.
	got, err := f.Merge(context.Background(), 7, "")
	if err != nil || got.State != forge.StateMerged || got.MergeCommit != mergeSHA {
		t.Errorf("Merge(7) = %+v, %v; want it merged", got, err)
	}
	// Open and not mergeable: GitHub's reason.
	_, err = f.Merge(context.Background(), 8, "")
	checkErr(t, err, r.srv)
	if !strings.Contains(err.Error(), "not mergeable") {
		t.Errorf("Merge(8): %v", err)
	}
}

func TestSetStatus(t *testing.T) {
	long := strings.Repeat("é", 200)
	r := newRegistry(t)
	r.on("POST", "/repos/example/fleet/statuses/"+headSHA).
		withBody(`{"state":"success","context":"gitmig/gate","description":"cloud applied and healthy","target_url":"https://argocd.example/applications/cloud"}`).
		respond(201, `{"id":1,"state":"success","context":"gitmig/gate"}`)
	r.on("POST", "/repos/example/fleet/statuses/"+headSHA).
		withBody(`{"state":"pending","context":"gitmig/gate","description":"`+strings.Repeat("é", 139)+`…"}`).
		respond(201, `{"id":2,"state":"pending","context":"gitmig/gate"}`)
	f := newForge(t, r)

	err := f.SetStatus(context.Background(), headSHA, forge.Status{
		State: forge.StatusSuccess, Context: "gitmig/gate",
		Description: "cloud applied and healthy", TargetURL: "https://argocd.example/applications/cloud",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetStatus(context.Background(), headSHA, forge.Status{State: forge.StatusPending, Context: "gitmig/gate", Description: long}); err != nil {
		t.Fatal(err)
	}
}

func TestPrimaryRateLimit(t *testing.T) {
	reset := now.Add(17 * time.Minute)
	for _, status := range []int{403, 429} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			r := newRegistry(t)
			r.on("GET", "/repos/example/fleet/pulls").withQuery(listQuery).respond(status,
				`{"message":"API rate limit exceeded for user ID 2. If you reach out to GitHub Support for help, please include the request ID.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`,
				"X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "0", "X-RateLimit-Used", "5000",
				"X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10), "X-RateLimit-Resource", "core")
			f := newForge(t, r)

			_, err := f.List(context.Background())
			checkErr(t, err, r.srv)
			var rl *forge.RateLimitError
			if !errors.As(err, &rl) {
				t.Fatalf("error %v is not a *forge.RateLimitError", err)
			}
			if rl.Secondary || !rl.Reset.Equal(reset) {
				t.Errorf("RateLimitError %+v, want primary until %s", rl, reset)
			}
			if !strings.Contains(err.Error(), reset.Format(time.RFC3339)) {
				t.Errorf("error %q does not name the reset time %s", err, reset.Format(time.RFC3339))
			}
		})
	}
}

func TestSecondaryRateLimit(t *testing.T) {
	const secondaryJSON = `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.","documentation_url":"https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`
	for _, tc := range []struct {
		name    string
		status  int
		headers []string
		reset   time.Time
	}{
		{"403 retry-after", 403, []string{"Retry-After", "120"}, now.Add(120 * time.Second)},
		{"429 retry-after", 429, []string{"Retry-After", "30"}, now.Add(30 * time.Second)},
		// No header: GitHub asks for at least a minute.
		{"403 message only", 403, nil, now.Add(time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry(t)
			r.on("POST", "/repos/example/fleet/issues/7/comments").respond(tc.status, secondaryJSON, tc.headers...)
			f := newForge(t, r)

			err := f.Comment(context.Background(), 7, "hello")
			checkErr(t, err, r.srv)
			var rl *forge.RateLimitError
			if !errors.As(err, &rl) {
				t.Fatalf("error %v is not a *forge.RateLimitError", err)
			}
			if !rl.Secondary || !rl.Reset.Equal(tc.reset) {
				t.Errorf("RateLimitError %+v, want secondary until %s", rl, tc.reset)
			}
			if !strings.Contains(err.Error(), "secondary rate limit") || !strings.Contains(err.Error(), tc.reset.Format(time.RFC3339)) {
				t.Errorf("error %q", err)
			}
		})
	}
}

func TestBadCredentials(t *testing.T) {
	r := newRegistry(t)
	r.on("GET", "/repos/example/fleet/pulls").respond(401, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`)
	f := newForge(t, r)

	_, err := f.List(context.Background())
	checkErr(t, err, r.srv)
	if !errors.Is(err, ErrBadCredentials) {
		t.Errorf("error %v does not wrap ErrBadCredentials", err)
	}
	if !strings.Contains(err.Error(), "GitHub rejected the token from $"+tokenEnv) {
		t.Errorf("error %q does not name $%s", err, tokenEnv)
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	r := newRegistry(t)
	// Something between gitmig and GitHub that echoes the header back.
	r.on("PATCH", "/repos/example/fleet/pulls/7").respond(400, `{"message":"bad header: Bearer `+testToken+`"}`)
	r.on("POST", "/repos/example/fleet/issues/7/comments").respond(403,
		`{"message":"Resource not accessible by personal access token","documentation_url":"https://docs.github.com/rest/issues/comments#create-an-issue-comment"}`)
	r.on("POST", "/repos/example/fleet/statuses/"+headSHA).respond(500, `not json`)
	f := newForge(t, r)
	ctx := context.Background()

	err := f.UpdateBody(ctx, 7, "b")
	checkErr(t, err, r.srv)
	err = f.Comment(ctx, 7, "c")
	checkErr(t, err, r.srv)
	if !strings.Contains(err.Error(), "Resource not accessible") || !strings.Contains(err.Error(), "permissions") {
		t.Errorf("403 error %q should give GitHub's reason and a hint", err)
	}
	err = f.SetStatus(ctx, headSHA, forge.Status{State: forge.StatusError, Context: "gitmig/gate"})
	checkErr(t, err, r.srv)

	// Credentials in the base URL are refused without being printed.
	_, err = New(Options{Owner: owner, Repo: repo, BaseURL: "https://x-access-token:" + testToken + "@ghe.example/api/v3/"})
	checkErr(t, err, r.srv)

	// A transport failure names neither the URL nor the token.
	r.srv.Close()
	_, err = f.List(ctx)
	checkErr(t, err, r.srv)
}

// A redirect to another host reaches it without the token, in any form.
func TestTokenStaysWithTheAPIHost(t *testing.T) {
	var leaked []string
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		for name, values := range req.Header {
			for _, v := range values {
				if strings.Contains(v, testToken) || strings.Contains(v, "Bearer") {
					leaked = append(leaked, name+": "+v)
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"message":"moved"}`)
	}))
	t.Cleanup(elsewhere.Close)
	r := newRegistry(t)
	r.on("POST", "/repos/example/fleet/issues/7/comments").respond(http.StatusTemporaryRedirect, "", "Location", elsewhere.URL+"/collect")
	f := newForge(t, r)
	_ = f.Comment(context.Background(), 7, "c")
	if len(leaked) > 0 {
		t.Errorf("the other host received %v", leaked)
	}
}

func TestNotFound(t *testing.T) {
	const notFound = `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/pulls/pulls#get-a-pull-request","status":"404"}`
	r := newRegistry(t)
	r.on("PATCH", "/repos/example/fleet/pulls/99").respond(404, notFound)
	r.on("POST", "/repos/example/fleet/issues/99/comments").respond(404, notFound)
	r.on("POST", "/repos/example/fleet/issues/99/labels").respond(404, notFound)
	r.on("GET", "/repos/example/fleet/pulls/99").respond(404, notFound)
	r.on("PUT", "/repos/example/fleet/pulls/99/merge").respond(404, notFound)
	f := newForge(t, r)
	ctx := context.Background()

	// Called in the registered order (a map's order is random).
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"UpdateBody", func() error { return f.UpdateBody(ctx, 99, "b") }},
		{"Comment", func() error { return f.Comment(ctx, 99, "c") }},
		{"AddLabels", func() error { return f.AddLabels(ctx, 99, "gitmig") }},
		{"Close", func() error { return f.Close(ctx, 99, "why") }},
		{"Merge", func() error { _, err := f.Merge(ctx, 99, ""); return err }},
	} {
		err := c.call()
		checkErr(t, err, r.srv)
		if !errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), "#99") {
			t.Errorf("%s: error %v, want forge.ErrNotFound for #99", c.name, err)
		}
	}
}

func TestNewValidates(t *testing.T) {
	for _, opts := range []Options{
		{Repo: repo},
		{Owner: owner},
		{Owner: owner, Repo: repo, BaseURL: "ghe.example/api/v3"},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("New(%+v) accepted", opts)
		}
	}
}

// recorder is a tb that records failures instead of failing.
type recorder struct {
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// TestRegistry checks the harness itself: a wrong body, a call out of order, an
// unused stub and an unexpected call each fail the test.
func TestRegistry(t *testing.T) {
	ctx := context.Background()
	run := func(rec *recorder) {
		for _, c := range rec.cleanups {
			c()
		}
	}

	rec := &recorder{}
	r := newRegistry(rec)
	r.on("POST", "/repos/example/fleet/issues/1/comments").withBody(`{"body":"x"}`)
	r.on("GET", "/repos/example/fleet/pulls/1")
	r.on("GET", "/repos/example/fleet/pulls/2")
	f := newForge(t, r)
	if err := f.Comment(ctx, 1, "y"); err == nil {
		t.Error("a wrong body was answered")
	}
	if err := f.UpdateBody(ctx, 1, "b"); err == nil {
		t.Error("a call out of order was answered")
	}
	run(rec)

	rec2 := &recorder{}
	r2 := newRegistry(rec2)
	if err := newForge(t, r2).Comment(ctx, 3, "z"); err == nil {
		t.Error("an unexpected call was answered")
	}
	run(rec2)

	got := append(rec.errs, rec2.errs...)
	wants := []string{"request body", "want GET /repos/example/fleet/pulls/1", "never called: GET /repos/example/fleet/pulls/2", "unexpected call"}
	if len(got) != len(wants) {
		t.Fatalf("registry reported %q, want %d failures", got, len(wants))
	}
	for i, want := range wants {
		if !strings.Contains(got[i], want) {
			t.Errorf("failure %d = %q, want it to mention %q", i, got[i], want)
		}
	}
}

func TestHeadURLFindsThePullRequestOfABranch(t *testing.T) {
	for base, want := range map[string]string{
		"":                                "https://github.com/example/fleet/pulls?q=is%3Apr+head%3Agitmig%2Fm%2F1-deploy",
		"https://ghe.example.com/api/v3/": "https://ghe.example.com/example/fleet/pulls?q=is%3Apr+head%3Agitmig%2Fm%2F1-deploy",
	} {
		f, err := New(Options{Owner: "example", Repo: "fleet", BaseURL: base})
		if err != nil {
			t.Fatal(err)
		}
		if got := f.HeadURL("gitmig/m/1-deploy"); got != want {
			t.Errorf("base %q: HeadURL = %q, want %q", base, got, want)
		}
	}
}

// status renders a commit status as GitHub documents it in a combined status.
func status(id int, state, context, description string) map[string]any {
	return map[string]any{
		"url":         "https://api.github.com/repos/example/fleet/statuses/" + headSHA,
		"avatar_url":  "https://github.com/images/error/hubot_happy.gif",
		"id":          id,
		"node_id":     "MDY6U3RhdHVzMQ==",
		"state":       state,
		"description": description,
		"target_url":  "https://argocd.example/applications/cloud",
		"context":     context,
		"created_at":  ts(now.Add(-time.Minute)),
		"updated_at":  ts(now.Add(-time.Minute)),
	}
}

func TestStatusesFollowsPagesOfTheCombinedStatus(t *testing.T) {
	combined := func(statuses ...any) string {
		return encode(map[string]any{
			"state": "pending", "statuses": statuses, "sha": headSHA, "total_count": 3,
			"commit_url": "https://api.github.com/repos/example/fleet/commits/" + headSHA,
			"url":        "https://api.github.com/repos/example/fleet/commits/" + headSHA + "/status",
		})
	}
	r := newRegistry(t)
	r.on("GET", "/repos/example/fleet/commits/"+headSHA+"/status").withQuery("per_page=100").
		respond(200, combined(status(2, "pending", "gitmig/gate", "cloud: 0 of 2 replicas available"), status(1, "success", "fleet-ci/verify", "verified")),
			"Link", `<`+r.srv.URL+`/repositories/1296269/commits/`+headSHA+`/status?per_page=100&page=2>; rel="next", <`+r.srv.URL+`/repositories/1296269/commits/`+headSHA+`/status?per_page=100&page=2>; rel="last"`)
	r.on("GET", "/repos/example/fleet/commits/"+headSHA+"/status").withQuery("per_page=100&page=2").
		respond(200, combined(status(3, "failure", "another/check", "red")))
	f := newForge(t, r)

	got, err := f.Statuses(context.Background(), headSHA)
	if err != nil {
		t.Fatal(err)
	}
	want := []forge.Status{
		{State: forge.StatusFailure, Context: "another/check", Description: "red", TargetURL: "https://argocd.example/applications/cloud"},
		{State: forge.StatusSuccess, Context: "fleet-ci/verify", Description: "verified", TargetURL: "https://argocd.example/applications/cloud"},
		{State: forge.StatusPending, Context: "gitmig/gate", Description: "cloud: 0 of 2 replicas available", TargetURL: "https://argocd.example/applications/cloud"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statuses:\n got %+v\nwant %+v", got, want)
	}
}

func TestCommentsReadsEveryPage(t *testing.T) {
	comment := func(id int, login, body string) map[string]any {
		return map[string]any{
			"id": id, "node_id": "MDEyOklzc3VlQ29tbWVudDE=",
			"url":        "https://api.github.com/repos/example/fleet/issues/comments/" + strconv.Itoa(id),
			"html_url":   "https://github.com/example/fleet/pull/7#issuecomment-" + strconv.Itoa(id),
			"body":       body,
			"user":       map[string]any{"login": login, "id": id, "type": "User"},
			"created_at": ts(now.Add(time.Duration(id) * time.Minute)), "updated_at": ts(now.Add(time.Duration(id) * time.Minute)),
			"issue_url":          "https://api.github.com/repos/example/fleet/issues/7",
			"author_association": "COLLABORATOR",
		}
	}
	r := newRegistry(t)
	r.on("GET", "/repos/example/fleet/issues/7/comments").withQuery("per_page=100").
		respond(200, encode([]any{comment(1, "alice", "LGTM")}),
			"Link", `<`+r.srv.URL+`/repositories/1296269/issues/7/comments?per_page=100&page=2>; rel="next"`)
	r.on("GET", "/repos/example/fleet/issues/7/comments").withQuery("per_page=100&page=2").
		respond(200, encode([]any{comment(2, "gitmig-bot", "gitmig: closing: the migration is rolling back")}))
	f := newForge(t, r)

	got, err := f.Comments(context.Background(), 7)
	if err != nil {
		t.Fatal(err)
	}
	want := []forge.Comment{
		{Author: "alice", Body: "LGTM", CreatedAt: now.Add(time.Minute)},
		{Author: "gitmig-bot", Body: "gitmig: closing: the migration is rolling back", CreatedAt: now.Add(2 * time.Minute)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("comments:\n got %+v\nwant %+v", got, want)
	}
}

func TestReadsOfAnUnknownPullRequestOrCommit(t *testing.T) {
	const notFound = `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/issues/comments#list-issue-comments","status":"404"}`
	r := newRegistry(t)
	r.on("GET", "/repos/example/fleet/issues/99/comments").respond(404, notFound)
	r.on("GET", "/repos/example/fleet/commits/"+mergeSHA+"/status").respond(422, `{"message":"No commit found for SHA: `+mergeSHA+`","documentation_url":"https://docs.github.com/rest/commits/statuses#get-the-combined-status-for-a-specific-reference","status":"422"}`)
	f := newForge(t, r)

	_, err := f.Comments(context.Background(), 99)
	checkErr(t, err, r.srv)
	if !errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), "#99") {
		t.Errorf("comments of #99: %v, want forge.ErrNotFound naming #99", err)
	}
	_, err = f.Statuses(context.Background(), mergeSHA)
	checkErr(t, err, r.srv)
	if !strings.Contains(err.Error(), "No commit found for SHA") {
		t.Errorf("statuses of an unknown commit: %v, want GitHub's message", err)
	}
}
