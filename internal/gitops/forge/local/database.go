package local

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/gitmig/gitmig/internal/gitops/forge"
)

// dbVersion is the pulls.json format this package reads and writes.
const dbVersion = 1

// Database is the content of pulls.json at refs/gitmig/forge: every pull request the
// forge has opened, and the commit statuses set on commits of the remote.
type Database struct {
	// Version is the format of the file, 1.
	Version int    `json:"version"`
	Pulls   []Pull `json:"pulls"`
	// Statuses holds, per full commit SHA, the latest status of each context.
	Statuses map[string][]CommitStatus `json:"statuses,omitempty"`
}

// Pull is a pull request as the local forge stores it.
type Pull struct {
	Number int    `json:"number"`
	Title  string `json:"title"`
	Body   string `json:"body,omitempty"`
	// Head and Base are branch names, without refs/heads/.
	Head        string      `json:"head"`
	HeadSHA     string      `json:"headSha"`
	Base        string      `json:"base"`
	State       forge.State `json:"state"`
	Labels      []string    `json:"labels,omitempty"`
	URL         string      `json:"url"`
	MergeCommit string      `json:"mergeCommit,omitempty"`
	CreatedAt   time.Time   `json:"createdAt"`
	MergedAt    time.Time   `json:"mergedAt,omitzero"`
	ClosedAt    time.Time   `json:"closedAt,omitzero"`
	Comments    []Comment   `json:"comments,omitempty"`
}

// Comment is a comment on a pull request.
type Comment struct {
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"createdAt"`
}

// CommitStatus is a commit status as the local forge stores it.
type CommitStatus struct {
	State       forge.StatusState `json:"state"`
	Context     string            `json:"context"`
	Description string            `json:"description,omitempty"`
	TargetURL   string            `json:"targetUrl,omitempty"`
	CreatedAt   time.Time         `json:"createdAt"`
}

// PullRequest returns the pull request as the forge interface describes it.
func (p Pull) PullRequest() forge.PullRequest {
	return forge.PullRequest{
		Number:      p.Number,
		Title:       p.Title,
		Body:        p.Body,
		Head:        p.Head,
		HeadSHA:     p.HeadSHA,
		Base:        p.Base,
		State:       p.State,
		Labels:      slices.Clone(p.Labels),
		URL:         p.URL,
		MergeCommit: p.MergeCommit,
		CreatedAt:   p.CreatedAt,
		MergedAt:    p.MergedAt,
		ClosedAt:    p.ClosedAt,
	}
}

func newDatabase() *Database {
	return &Database{Version: dbVersion, Pulls: []Pull{}}
}

func decodeDatabase(data []byte) (*Database, error) {
	db := newDatabase()
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(db); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", dbFile, err)
	}
	if db.Version > dbVersion {
		return nil, fmt.Errorf("%s has format version %d; this gitmig reads up to %d: upgrade gitmig", dbFile, db.Version, dbVersion)
	}
	if db.Pulls == nil {
		db.Pulls = []Pull{}
	}
	return db, nil
}

// encode renders the database canonically, indented so that the forge ref's history
// reads as a diff per change.
func (db *Database) encode() ([]byte, error) {
	slices.SortFunc(db.Pulls, func(a, b Pull) int { return a.Number - b.Number })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// Bodies are Markdown full of <details> and ->; keep them readable in git show.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(db); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", dbFile, err)
	}
	return buf.Bytes(), nil
}

// pull returns the pull request numbered n.
func (db *Database) pull(n int) (*Pull, error) {
	for i := range db.Pulls {
		if db.Pulls[i].Number == n {
			return &db.Pulls[i], nil
		}
	}
	return nil, fmt.Errorf("pull request #%d: %w", n, forge.ErrNotFound)
}

// openFor returns the open pull request whose head is branch, if any.
func (db *Database) openFor(branch string) *Pull {
	for i := range db.Pulls {
		if p := &db.Pulls[i]; p.Head == branch && p.State == forge.StateOpen {
			return p
		}
	}
	return nil
}

func (db *Database) nextNumber() int {
	n := 0
	for _, p := range db.Pulls {
		n = max(n, p.Number)
	}
	return n + 1
}
