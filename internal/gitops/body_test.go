package gitops

import (
	"context"
	"strings"
	"testing"
)

// TestEvidenceSaysSustainedOrCurrent: every figure of the decision that a step's pull
// request and its record carry is labelled sustained (the minimum over the window),
// current (at the evaluation time) or requested, in the same words in the reason, the
// candidates and the clusters' table. The example snapshot's edge sustained 6.90 cores
// and uses 7.10 now, so a label on the wrong figure shows.
func TestEvidenceSaysSustainedOrCurrent(t *testing.T) {
	f := newFleet(t)
	if _, err := f.reconciler().Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	prs := f.prs()
	recs := f.records()
	if len(prs) != 1 || len(recs) != 1 {
		t.Fatalf("%d pull requests and %d records, want one of each", len(prs), len(recs))
	}
	reason := recs[0].Spec.Reason
	for _, want := range []string{
		"edge Overloaded: sustained cpu 6.90/8.00 = 0.86 > 0.80 over 10m",
		// orc8r's 3.20 cores leave edge's current 7.10: 3.90/8.
		"moving orc8r (current cpu 3.20, current memory 3.00Gi) brings it to current cpu 0.49, current memory 0.30",
	} {
		if !strings.Contains(reason, want) {
			t.Errorf("the record's reason lacks %q:\n%s", want, reason)
		}
	}
	body := prs[0].Body
	for _, want := range []string{
		"by gitmig plan: " + reason,
		"after the move current cpu 7.20/64.00 = 0.11, requested cpu 9.00/64.00 = 0.14 (target 0.70); current memory 44.00Gi/256.00Gi = 0.17, requested memory 52.00Gi/256.00Gi = 0.20",
		"current cpu after the move 3.60/4.00 = 0.90 > target 0.70; requested cpu after the move 3.30/4.00 = 0.82 > target 0.70",
		"| Cluster | State | Sustained cpu / capacity | cpu utilisation | Sustained memory / capacity | memory utilisation |",
		"| edge | Overloaded | 6.90 / 8.00 | 0.86 | 7.50Gi / 16.00Gi | 0.47 |",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the pull request's body lacks %q:\n%s", want, body)
		}
	}
	for _, unlabelled := range []string{"cpu used", "memory used", "used / capacity", "(cpu 3.20"} {
		if strings.Contains(body, unlabelled) {
			t.Errorf("the pull request's body says %q, which does not say sustained or current", unlabelled)
		}
	}
}
