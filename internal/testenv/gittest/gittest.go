// Package gittest runs the git CLI in tests: a clone, a commit, a revert or a push made
// as a person at a terminal would make them beside gitmig.
//
// It is test support: import it from _test.go files only.
package gittest

import (
	"os/exec"
	"strings"
	"testing"
)

// Run runs git with args in dir (the test's folder when empty), as a committer of its
// own so that commits work on any machine (a later -c user.name=… in args overrides
// it), and returns the output without surrounding space. A failure fails the test.
func Run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	pre := []string{"-c", "user.name=gitmig test", "-c", "user.email=test@localhost"}
	if dir != "" {
		pre = append(pre, "-C", dir)
	}
	out, err := exec.Command("git", append(pre, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
