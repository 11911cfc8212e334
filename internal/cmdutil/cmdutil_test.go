package cmdutil

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGTERM cancels the command's context; the command returns at its safe point and
// the exit code is 128+15, with the reason said.
func TestMainStopsOnSIGTERM(t *testing.T) {
	var out, errOut strings.Builder
	started := make(chan struct{})
	go func() {
		<-started
		_ = syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	}()
	code := Main(func(ctx context.Context, _ []string, _ Streams) error {
		close(started)
		select {
		case <-ctx.Done():
			return errors.New("pass stopped before push-branch: " + context.Cause(ctx).Error())
		case <-time.After(10 * time.Second):
			return errors.New("the signal did not cancel the context")
		}
	}, nil, Streams{Out: &out, Err: &errOut})
	if code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit code %d, want %d", code, 128+int(syscall.SIGTERM))
	}
	if !strings.Contains(errOut.String(), "interrupted by SIGTERM") || !strings.Contains(errOut.String(), "stopped before push-branch") {
		t.Errorf("stderr: %q", errOut.String())
	}
}

func TestMainRedactsWhatReachesIt(t *testing.T) {
	var errOut strings.Builder
	code := Main(func(context.Context, []string, Streams) error {
		return errors.New("cloning https://x-access-token:ghs_abcdefgh123@github.com/o/f.git: refused")
	}, nil, Streams{Err: &errOut})
	if code != 1 || strings.Contains(errOut.String(), "ghs_abcdefgh123") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}
