package record

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestRoundTripAndLoadAll(t *testing.T) {
	rec := New("orc8r-edge-to-cloud-20260504-0900", Spec{
		Service: "orc8r", Namespace: "orc8r-ns", From: "edge", To: "cloud",
		DecidedAt: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC), DecidedBy: "gitmig plan", Reason: "edge Overloaded",
	})
	rec.Status.Step = 2
	rec.SetPullRequest(PullRequestRef{Step: 2, Number: 8, URL: "u8"})
	rec.SetPullRequest(PullRequestRef{Step: 1, Number: 7, URL: "u7"})
	rec.SetPullRequest(PullRequestRef{Step: 2, Number: 9, URL: "u9"})
	data, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{Path(rec.ID()): {Data: data}, "migrations/README.md": {Data: []byte("not a record")}}
	recs, err := LoadAll(fsys)
	if err != nil {
		t.Fatal(err)
	}
	got := recs[0]
	if len(recs) != 1 || got.Spec != rec.Spec || got.Status.Step != 2 || got.Status.Phase != InProgress {
		t.Fatalf("round trip: %+v", got)
	}
	if prs := got.Status.PullRequests; len(prs) != 2 || prs[0].Number != 7 || prs[1].Number != 9 {
		t.Errorf("pull requests by step, the newest per step: %+v", prs)
	}
}

func TestLoadAllNamesTheBrokenFile(t *testing.T) {
	for name, tt := range map[string]struct{ file, data, want string }{
		"not a record":  {"migrations/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", `migrations/a.yaml: not a gitmig.dev/v1alpha1 Migration (apiVersion "v1", kind "ConfigMap")`},
		"unknown field": {"migrations/a.yaml", "apiVersion: gitmig.dev/v1alpha1\nkind: Migration\nmetadata: {name: a}\nspec: {service: s, from: a, to: b, colour: red}\n", `migrations/a.yaml: unknown field "colour"`},
		"step past 4":   {"migrations/a.yaml", "apiVersion: gitmig.dev/v1alpha1\nkind: Migration\nmetadata: {name: a}\nspec: {service: s, from: a, to: b}\nstatus: {step: 5}\n", "migrations/a.yaml: status.step 5 is not 0-4"},
		"misnamed":      {"migrations/b.yaml", "apiVersion: gitmig.dev/v1alpha1\nkind: Migration\nmetadata: {name: a}\nspec: {service: s, from: a, to: b}\n", `migrations/b.yaml: metadata.name "a" does not match the file name`},
	} {
		_, err := LoadAll(fstest.MapFS{tt.file: {Data: []byte(tt.data)}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", name, err, tt.want)
		}
	}
	if recs, err := LoadAll(fstest.MapFS{}); err != nil || recs != nil {
		t.Errorf("no migrations folder: %v, %v", recs, err)
	}
}

func TestEnded(t *testing.T) {
	for phase, ended := range map[Phase]bool{InProgress: false, Completed: true, Aborted: true, RolledBack: true} {
		if phase.Ended() != ended {
			t.Errorf("%s.Ended() = %v", phase, !ended)
		}
	}
}
