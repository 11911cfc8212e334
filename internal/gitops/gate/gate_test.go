package gate

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitmig/gitmig/internal/step"
)

var mergedAt = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

// history is a base branch: old ← merge ← later, with "merge" the step's merge commit.
func request(n int) Request {
	onBranch := map[string]bool{"merge0000": true, "later0000": true}
	return Request{
		Service: "orc8r", Namespace: "orc8r-ns", From: "edge", To: "cloud", Cluster: step.Step(n).Cluster("edge", "cloud"),
		Step: step.Step(n), MergeCommit: "merge0000", MergedAt: mergedAt, Now: mergedAt.Add(10 * time.Minute),
		Descends: func(_ context.Context, sha string) (bool, error) { return onBranch[sha], nil },
	}
}

func object(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	// Through the API machinery's JSON decoder, so integers are int64 as a client reads them.
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return u
}

const healthyApp = `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: cloud}
status:
  sync: {status: Synced, revision: merge0000}
  health: {status: Healthy}
  reconciledAt: "2026-05-04T09:01:00Z"
  operationState: {phase: Succeeded, finishedAt: "2026-05-04T09:00:40Z", syncResult: {revision: merge0000}}
`

func TestEvaluateApplication(t *testing.T) {
	tests := []struct {
		name      string
		edit      [2]string
		verdict   Verdict
		stale     bool
		reasonHas string
	}{
		{"synced healthy succeeded at the merge", [2]string{}, Pass, false, "Synced and Healthy at merge00"},
		{"at a descendant of the merge", [2]string{"revision: merge0000}", "revision: later0000}"}, Pass, false, "at later00"},
		{"stale revision", [2]string{"revision: merge0000}\n  health", "revision: older0000}\n  health"}, Wait, true, "is at older00, not yet at the merge merge00"},
		{"no revision yet", [2]string{"revision: merge0000}\n  health", "revision: \"\"}\n  health"}, Wait, true, "synced no revision yet"},
		{"out of sync", [2]string{"status: Synced", "status: OutOfSync"}, Wait, false, "is OutOfSync"},
		{"degraded", [2]string{"status: Healthy", "status: Degraded, message: CrashLoopBackOff"}, Wait, false, "is Degraded CrashLoopBackOff"},
		{"progressing", [2]string{"status: Healthy", "status: Progressing"}, Wait, false, "is Progressing"},
		{"operation running", [2]string{"phase: Succeeded", "phase: Running"}, Wait, false, "last operation Running"},
		{"operation failed at the merge", [2]string{"phase: Succeeded", "phase: Failed, message: one or more objects failed to apply"}, Fail, false, "sync of merge00 Failed: one or more objects failed"},
		{"operation failed at an older revision", [2]string{"phase: Succeeded, finishedAt: \"2026-05-04T09:00:40Z\", syncResult: {revision: merge0000}", "phase: Failed, syncResult: {revision: older0000}"}, Wait, false, "last operation Failed"},
		{"reconciled before the merge, within the clock skew", [2]string{"09:01:00Z", "08:59:30Z"}, Pass, false, "Synced and Healthy"},
		{"reconciled before the merge, beyond the clock skew", [2]string{"09:01:00Z", "08:55:00Z"}, Wait, true, "last reconciled at 2026-05-04T08:55:00Z, before the merge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := healthyApp
			if tt.edit[0] != "" {
				if !strings.Contains(doc, tt.edit[0]) {
					t.Fatalf("fixture lacks %q", tt.edit[0])
				}
				doc = strings.Replace(doc, tt.edit[0], tt.edit[1], 1)
			}
			res, stale, err := EvaluateApplication(context.Background(), object(t, doc), request(1), DefaultMaxClockSkew)
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tt.verdict || stale != tt.stale || !strings.Contains(res.Reason, tt.reasonHas) {
				t.Fatalf("got %s (stale %v) %q; want %s (stale %v) containing %q", res.Verdict, stale, res.Reason, tt.verdict, tt.stale, tt.reasonHas)
			}
			if res.Verdict == Pass && !res.AppliedAt.Equal(time.Date(2026, 5, 4, 9, 0, 40, 0, time.UTC)) {
				t.Errorf("AppliedAt = %s, want the operation's finishedAt", res.AppliedAt)
			}
		})
	}
}

const readyKustomization = `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: cloud, generation: 3}
status:
  observedGeneration: 3
  lastAppliedRevision: main@sha1:merge0000
  lastAttemptedRevision: main@sha1:merge0000
  conditions:
  - {type: Ready, status: "True", reason: ReconciliationSucceeded, message: "Applied revision: main@sha1:merge0000", lastTransitionTime: "2026-05-04T09:00:05Z"}
`

func TestEvaluateKustomization(t *testing.T) {
	tests := []struct {
		name      string
		edits     [][2]string
		verdict   Verdict
		stale     bool
		reasonHas string
	}{
		{"ready at the merge", nil, Pass, false, "Ready, applied main@sha1:merge0000"},
		{"ready at a descendant", [][2]string{{"lastAppliedRevision: main@sha1:merge0000", "lastAppliedRevision: main@sha1:later0000"}}, Pass, false, "applied main@sha1:later0000"},
		{"old revision format", [][2]string{{"lastAppliedRevision: main@sha1:merge0000", "lastAppliedRevision: main/merge0000"}}, Pass, false, "applied main/merge0000"},
		{"stale revision", [][2]string{{"lastAppliedRevision: main@sha1:merge0000", "lastAppliedRevision: main@sha1:older0000"}}, Wait, true, "last applied main@sha1:older0000, not yet the merge"},
		{"nothing applied yet", [][2]string{{"lastAppliedRevision: main@sha1:merge0000", "lastAppliedRevision: \"\""}}, Wait, true, "applied no revision yet"},
		{"generation not observed", [][2]string{{"observedGeneration: 3", "observedGeneration: 2"}}, Wait, false, "observed generation 2 of 3"},
		{"health check failing", [][2]string{{`status: "True", reason: ReconciliationSucceeded`, `status: "False", reason: HealthCheckFailed`}}, Wait, false, "not Ready: HealthCheckFailed"},
		{"build failed at the merge", [][2]string{{`status: "True", reason: ReconciliationSucceeded`, `status: "False", reason: BuildFailed`}}, Fail, false, "failed to apply main@sha1:merge0000: BuildFailed"},
		{"build failed at an older revision", [][2]string{
			{`status: "True", reason: ReconciliationSucceeded`, `status: "False", reason: BuildFailed`},
			{"lastAttemptedRevision: main@sha1:merge0000", "lastAttemptedRevision: main@sha1:older0000"},
			{"lastAppliedRevision: main@sha1:merge0000", "lastAppliedRevision: main@sha1:older0000"},
		}, Wait, true, "not yet the merge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := readyKustomization
			for _, e := range tt.edits {
				if !strings.Contains(doc, e[0]) {
					t.Fatalf("fixture lacks %q", e[0])
				}
				doc = strings.Replace(doc, e[0], e[1], 1)
			}
			res, stale, err := EvaluateKustomization(context.Background(), object(t, doc), request(2))
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tt.verdict || stale != tt.stale || !strings.Contains(res.Reason, tt.reasonHas) {
				t.Fatalf("got %s (stale %v) %q; want %s (stale %v) containing %q", res.Verdict, stale, res.Reason, tt.verdict, tt.stale, tt.reasonHas)
			}
		})
	}
}

func TestRevisionSHA(t *testing.T) {
	for in, want := range map[string]string{"main@sha1:abc": "abc", "main/abc": "abc", "sha1:abc": "abc", "abc": "abc"} {
		if got := RevisionSHA(in); got != want {
			t.Errorf("RevisionSHA(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEvaluateDeployment(t *testing.T) {
	const (
		complete    = "{type: Progressing, status: 'True', reason: NewReplicaSetAvailable}"
		available   = "{type: Available, status: 'True', reason: MinimumReplicasAvailable}"
		unavailable = "{type: Available, status: 'False', reason: MinimumReplicasUnavailable}"
		deadline    = "{type: Progressing, status: 'False', reason: ProgressDeadlineExceeded, message: 'ReplicaSet \"orc8r-5d\" has timed out progressing.'}"
	)
	for _, tt := range []struct {
		name, status string
		verdict      Verdict
		reason       string
	}{
		{"rolled out", "{observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, conditions: [" + complete + ", " + available + "]}",
			Pass, "Deployment orc8r-ns/orc8r in cloud: Deployment is available. Replicas: 2"},
		{"one replica not available", "{observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 1, availableReplicas: 1, conditions: [" + unavailable + "]}",
			Wait, "Available: 1/2"},
		{"generation not observed", "{observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, conditions: [" + complete + ", " + available + "]}",
			Wait, "Deployment generation is 2, but latest observed generation is 1"},
		{"old pods still terminating", "{observedGeneration: 2, replicas: 3, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2, conditions: [" + available + "]}",
			Wait, "Pending termination: 1"},
		{"progress deadline exceeded", "{observedGeneration: 2, replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, conditions: [" + deadline + ", " + available + "]}",
			Fail, `Progress deadline exceeded: ReplicaSet "orc8r-5d" has timed out progressing.`},
		{"no status yet", "{}", Wait, "Deployment orc8r-ns/orc8r in cloud: "},
	} {
		d := object(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: orc8r, namespace: orc8r-ns, generation: 2}\nspec: {replicas: 2, progressDeadlineSeconds: 600}\nstatus: "+tt.status)
		if res := EvaluateDeployment(d, "cloud"); res.Verdict != tt.verdict || !strings.Contains(res.Reason, tt.reason) {
			t.Errorf("%s: got %s %q, want %s %q", tt.name, res.Verdict, res.Reason, tt.verdict, tt.reason)
		}
	}
}

type fixed Result

func (f fixed) Check(context.Context, Request) (Result, error) { return Result(f), nil }

func TestHoldSettlesTheRouteAndDrainsTheFlip(t *testing.T) {
	applied := mergedAt.Add(2 * time.Minute)
	inner := fixed{Verdict: Pass, Reason: "applied", AppliedAt: applied}
	d := Hold{Inner: inner, Settle: 15 * time.Second, Drain: 5 * time.Minute}
	for _, tt := range []struct {
		step    int
		now     time.Time
		verdict Verdict
		reason  string
		// recheck is when the hold ends, on a Wait: the answer changes then.
		recheck time.Time
	}{
		{3, applied.Add(4 * time.Minute), Wait, "draining edge: 4m0s of 5m0s since the flip applied at 2026-05-04T09:02:00Z", applied.Add(5 * time.Minute)},
		{3, applied.Add(5 * time.Minute), Pass, "applied; drained 5m0s", time.Time{}},
		{2, applied.Add(10 * time.Second), Wait, "settling cloud: 10s of 15s since the route applied at 2026-05-04T09:02:00Z", applied.Add(15 * time.Second)},
		{2, applied.Add(15 * time.Second), Pass, "applied; settled 15s", time.Time{}},
		{1, applied, Pass, "applied", time.Time{}},
		{4, applied, Pass, "applied", time.Time{}},
	} {
		req := request(tt.step)
		req.Now = tt.now
		res, err := d.Check(context.Background(), req)
		if err != nil || res.Verdict != tt.verdict || !strings.Contains(res.Reason, tt.reason) || !res.RecheckAt.Equal(tt.recheck) {
			t.Errorf("step %d at %s: got %s %q recheck %s, want %s %q recheck %s", tt.step, tt.now, res.Verdict, res.Reason, res.RecheckAt, tt.verdict, tt.reason, tt.recheck)
		}
	}
	// Without an applied time the drain counts from the merge.
	d.Inner = fixed{Verdict: Pass, Reason: "merged"}
	req := request(3)
	req.Now = mergedAt.Add(5 * time.Minute)
	if res, _ := d.Check(context.Background(), req); res.Verdict != Pass {
		t.Errorf("drain from the merge: %s %q", res.Verdict, res.Reason)
	}
	// A clock behind the merge never counts as drained.
	req.Now = mergedAt.Add(-time.Minute)
	if res, _ := d.Check(context.Background(), req); res.Verdict != Wait || !strings.Contains(res.Reason, "0s of 5m0s") {
		t.Errorf("clock behind the merge: %s %q", res.Verdict, res.Reason)
	}
}

func TestAllAnswersWithTheMostSerious(t *testing.T) {
	pass, wait, fail := fixed{Verdict: Pass, Reason: "p"}, fixed{Verdict: Wait, Reason: "w"}, fixed{Verdict: Fail, Reason: "f"}
	for _, tt := range []struct {
		gates All
		want  Verdict
		why   string
	}{
		{All{pass, pass}, Pass, "p; p"},
		{All{pass, wait, fail}, Fail, "f"},
		{All{wait, pass}, Wait, "w"},
	} {
		res, err := tt.gates.Check(context.Background(), request(1))
		if err != nil || res.Verdict != tt.want || res.Reason != tt.why {
			t.Errorf("got %s %q, want %s %q", res.Verdict, res.Reason, tt.want, tt.why)
		}
	}
}
