package pr

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/forge/local"
	"github.com/gitmig/gitmig/internal/text"
)

// View is what `gitmig pr view` shows of a pull request.
type View struct {
	forge.PullRequest
	// Statuses are the latest commit status of each context on the head.
	Statuses []forge.Status  `json:"statuses"`
	Comments []forge.Comment `json:"comments"`
	// Diff is the unified diff against the base, with --diff.
	Diff string `json:"diff,omitempty"`
}

// view shows pull request opts.Number.
func view(ctx context.Context, opts *Options, f *local.Forge, setup *gitops.Setup) error {
	db, err := f.Read(ctx)
	if err != nil {
		return err
	}
	var pull *local.Pull
	for i := range db.Pulls {
		if db.Pulls[i].Number == opts.Number {
			pull = &db.Pulls[i]
		}
	}
	if pull == nil {
		return fmt.Errorf("pull request #%d is not on %s: %w", opts.Number, f.Remote(), forge.ErrNotFound)
	}
	v := View{PullRequest: pull.PullRequest()}
	if v.Statuses, err = f.Statuses(ctx, pull.HeadSHA); err != nil {
		return err
	}
	if v.Comments, err = f.Comments(ctx, pull.Number); err != nil {
		return err
	}
	if opts.Diff {
		if v.Diff, err = diff(ctx, opts, setup, v.PullRequest); err != nil {
			return err
		}
	}
	if opts.Output == "json" {
		enc := json.NewEncoder(opts.Streams.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	return writeView(opts.Streams.Out, v)
}

// diff is the pull request's change against its base: what its merge commit changed
// once merged, else its head against where it left the base.
func diff(ctx context.Context, opts *Options, setup *gitops.Setup, pr forge.PullRequest) (string, error) {
	onBase := *setup
	onBase.Branch = pr.Base
	ws, err := onBase.Clone(opts.Now)(ctx)
	if err != nil {
		return "", err
	}
	if pr.State == forge.StateMerged && pr.MergeCommit != "" {
		parent, err := ws.FirstParent(pr.MergeCommit)
		if err != nil {
			return "", fmt.Errorf("the merge of #%d: %w", pr.Number, err)
		}
		return ws.Diff(parent, pr.MergeCommit)
	}
	head, err := ws.FetchBranch(ctx, pr.Head)
	if err != nil {
		return "", fmt.Errorf("the head branch of #%d, %s: %w", pr.Number, pr.Head, err)
	}
	base, err := ws.MergeBase(ws.Head(), head)
	if err != nil {
		return "", err
	}
	return ws.Diff(base, head)
}

// writeView prints a pull request as text; everything that came from the forge is
// stripped of control sequences.
func writeView(w io.Writer, v View) error {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s\n", v.Number, text.Printable(v.Title))
	state := string(v.State)
	switch v.State {
	case forge.StateMerged:
		state += fmt.Sprintf(" into %s at %s (%s)", text.Printable(v.Base), v.MergeCommit, v.MergedAt.UTC().Format(time.RFC3339))
	case forge.StateClosed:
		state += fmt.Sprintf(" without merge (%s)", v.ClosedAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "state:   %s\n", state)
	fmt.Fprintf(&b, "branch:  %s → %s at %s\n", text.Printable(v.Head), text.Printable(v.Base), v.HeadSHA)
	fmt.Fprintf(&b, "url:     %s\n", text.Printable(v.URL))
	if len(v.Labels) > 0 {
		fmt.Fprintf(&b, "labels:  %s\n", text.Printable(strings.Join(v.Labels, ", ")))
	}
	if len(v.Statuses) == 0 {
		b.WriteString("checks:  none\n")
	}
	for i, st := range v.Statuses {
		label := "checks: "
		if i > 0 {
			label = "        "
		}
		fmt.Fprintf(&b, "%s %s %s: %s\n", label, st.State, text.Printable(st.Context), text.Printable(st.Description))
	}
	if strings.TrimSpace(v.Body) != "" {
		b.WriteString("\n")
		writeLines(&b, v.Body, "")
	}
	fmt.Fprintf(&b, "\n%d comments\n", len(v.Comments))
	for _, c := range v.Comments {
		by := ""
		if c.Author != "" {
			by = " by " + text.Printable(c.Author)
		}
		fmt.Fprintf(&b, "\n— %s%s:\n", c.CreatedAt.UTC().Format(time.RFC3339), by)
		writeLines(&b, c.Body, "  ")
	}
	if v.Diff != "" {
		b.WriteString("\n")
		writeLines(&b, v.Diff, "")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeLines writes s line by line, each stripped of control sequences and indented.
func writeLines(b *strings.Builder, s, indent string) {
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		fmt.Fprintf(b, "%s%s\n", indent, text.Printable(line))
	}
}
