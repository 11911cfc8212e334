package present

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/report"
)

func TestSummaryOfAFailedPass(t *testing.T) {
	var b strings.Builder
	rep := &report.Report{
		Head: "0123456789abcdef",
		Migrations: []report.MigrationStatus{{
			ID: "a-edge-to-fog-20260504-0900", Service: "a", From: "edge", To: "fog", Step: 2, Status: "InProgress",
			WaitingFor:   "route answers for a|b\non <port> 80",
			Gate:         &report.GateStatus{Step: 2, Verdict: gate.Wait, Reason: "not synced"},
			PullRequests: []report.PRStatus{{Step: 2, Number: 7, State: "merged", URL: "https://github.com/example/fleet/pull/7"}},
		}},
		Notes: []string{"stray branch gitmig/x"},
	}
	if err := Summary(&b, rep, false, errors.New("push rejected\nretry later")); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		"## gitmig reconcile at `0123456`\n",
		"> [!CAUTION]\n> The pass failed: push rejected retry later\n",
		"No plan this pass",
		"| step 2: Wait, not synced | route answers for a\\|b on &lt;port> 80 | [#7](https://github.com/example/fleet/pull/7) merged |\n",
		"Nothing to do.",
		"- stray branch gitmig/x\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	assertTables(t, got)

	b.Reset()
	if err := Summary(&b, nil, true, errors.New("clone failed")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "The pass failed: clone failed") || !strings.Contains(b.String(), "(dry run)") {
		t.Errorf("a pass without a report still says why it failed:\n%s", b.String())
	}
}

// assertTables checks that every table row has as many cells as its header, so that
// no unescaped pipe or newline broke a row.
func assertTables(t *testing.T, md string) {
	t.Helper()
	columns := 0
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			columns = 0
			continue
		}
		n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") - 1
		if columns == 0 {
			columns = n
			continue
		}
		if n != columns {
			t.Errorf("row with %d cells under a header of %d: %s", n, columns, line)
		}
	}
}
