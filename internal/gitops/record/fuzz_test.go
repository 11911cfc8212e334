package record

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/step"
)

// FuzzParse checks that no record file makes Parse panic, that a record it accepts
// has an id that is safe as a branch and file name, and that writing it back and
// reading it again gives the same record: what a pass writes, the next pass reads.
// `go test` runs the seeds and the committed corpus; `go test -fuzz FuzzParse`
// explores.
func FuzzParse(f *testing.F) {
	rec := New("orc8r-edge-to-cloud-20260504-0900", Spec{
		Service: "orc8r", Namespace: "orc8r-ns", From: "edge", To: "cloud",
		DecidedAt: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC), DecidedBy: "gitmig plan", Reason: "edge Overloaded",
	})
	rec.Status.Step = 3
	rec.SetPullRequest(PullRequestRef{Step: 1, Number: 7, URL: "https://github.com/example/fleet/pull/7"})
	data, err := rec.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	const head = "apiVersion: gitmig.dev/v1alpha1\nkind: Migration\n"
	for _, seed := range []string{
		"", "null", "[]", head, head + "metadata: {name: ../../clusters/edge/kustomization}\nspec: {service: s, from: a, to: b}\n",
		head + "metadata: {name: a}\nspec: {service: s, from: a, to: b}\nstatus: {step: -1}\n",
		head + "metadata: {name: a}\nspec: {service: s, from: a, to: b, decidedAt: 'yesterday'}\n",
		head + "metadata: {name: a}\nspec: {service: s, from: a, to: b}\nstatus: {pullRequests: [{step: 9, number: -1}], rollback: {}}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := Parse(data)
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Errorf("an error that says nothing, for %q", data)
			}
			return
		}
		if !step.ValidID(rec.ID()) || Path(rec.ID()) != Dir+"/"+rec.ID()+".yaml" {
			t.Fatalf("accepted the id %q, which is not a plain file name", rec.ID())
		}
		out, err := rec.Marshal()
		if err != nil {
			t.Fatalf("an accepted record does not encode: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("a record gitmig wrote does not read back: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(rec, again) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", rec, again)
		}
	})
}
