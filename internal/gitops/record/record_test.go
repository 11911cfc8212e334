package record

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gitmig/gitmig/internal/config"
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
	recs, invalid, err := LoadAll(fsys, testConfig(t))
	if err != nil || len(invalid) != 0 {
		t.Fatal(err, invalid)
	}
	got := recs[0]
	if len(recs) != 1 || !got.Spec.Equal(rec.Spec) || got.Status.Step != 2 || got.Status.Phase != InProgress {
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
		recs, invalid, err := LoadAll(fstest.MapFS{tt.file: {Data: []byte(tt.data)}}, testConfig(t))
		if err != nil || len(recs) != 0 || len(invalid) != 1 || !strings.Contains(invalid[0].File+": "+invalid[0].Problem, tt.want) {
			t.Errorf("%s: got %v, %+v, %v; want %q", name, recs, invalid, err, tt.want)
		}
	}
	if recs, invalid, err := LoadAll(fstest.MapFS{}, testConfig(t)); err != nil || recs != nil || invalid != nil {
		t.Errorf("no migrations folder: %v, %v, %v", recs, invalid, err)
	}
}

// A record that does not fit gitmig.yaml is reported by its file, and the others load.
func TestLoadAllChecksRecordsAgainstTheConfig(t *testing.T) {
	good := New("orc8r-edge-to-cloud-20260504-0900", Spec{Service: "orc8r", Namespace: "orc8r-ns", From: "edge", To: "cloud"})
	fsys := fstest.MapFS{Path(good.ID()): {Data: mustMarshal(t, good)}}
	paused := New("orc8r-edge-to-cloud-20260504-0902", Spec{Service: "orc8r", From: "edge", To: "cloud"})
	paused.Status.Phase = "Paused"
	for _, rec := range []*Record{
		New("ghost-edge-to-cloud-20260504-0900", Spec{Service: "ghost", From: "edge", To: "cloud"}),
		New("orc8r-edge-to-moon-20260504-0900", Spec{Service: "orc8r", From: "edge", To: "moon"}),
		New("orc8r-edge-to-cloud-20260504-0901", Spec{Service: "orc8r", Namespace: "kube-system", From: "edge", To: "cloud"}),
		New("agw-edge-to-cloud-20260504-0900", Spec{Service: "orc8r", From: "edge", To: "cloud"}),
		paused,
	} {
		fsys[Path(rec.ID())] = &fstest.MapFile{Data: mustMarshal(t, rec)}
	}
	recs, invalid, err := LoadAll(fsys, testConfig(t))
	if err != nil || len(recs) != 1 || recs[0].ID() != good.ID() {
		t.Fatalf("valid records: %v, %v", recs, err)
	}
	got := map[string]string{}
	for _, i := range invalid {
		got[i.File] = i.Problem
	}
	for file, want := range map[string]string{
		"migrations/ghost-edge-to-cloud-20260504-0900.yaml": `spec.service "ghost" is not in gitmig.yaml's services`,
		"migrations/orc8r-edge-to-moon-20260504-0900.yaml":  `spec.to "moon" is not in gitmig.yaml's clusters`,
		"migrations/orc8r-edge-to-cloud-20260504-0901.yaml": `spec.namespace "kube-system" is not orc8r's namespace orc8r-ns`,
		"migrations/agw-edge-to-cloud-20260504-0900.yaml":   `does not start with orc8r-edge-to-cloud-`,
		"migrations/orc8r-edge-to-cloud-20260504-0902.yaml": `status.phase "Paused" is not InProgress`,
	} {
		if !strings.Contains(got[file], want) {
			t.Errorf("%s: %q, want %q", file, got[file], want)
		}
	}
}

func mustMarshal(t *testing.T, r *Record) []byte {
	t.Helper()
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(`apiVersion: gitmig.dev/v1alpha1
kind: Config
clusters:
  - {name: edge, tier: edge, ingress: {dnsName: edge.test, entryPoints: {web: 80}}}
  - {name: cloud, tier: cloud, ingress: {dnsName: cloud.test, entryPoints: {web: 80}}}
services:
  - {name: orc8r, namespace: orc8r-ns, base: base/orc8r}
  - {name: s, namespace: s, base: base/s}
gitops: {remote: fleet.git}
`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestEnded(t *testing.T) {
	for phase, ended := range map[Phase]bool{InProgress: false, Completed: true, Aborted: true, RolledBack: true} {
		if phase.Ended() != ended {
			t.Errorf("%s.Ended() = %v", phase, !ended)
		}
	}
}
