package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/gitmig/gitmig/internal/gitops/runner"
)

// Options configure Run.
type Options struct {
	// Listener serves the HTTP endpoints; nil serves none.
	Listener net.Listener
	// Secret is the webhook's secret; Branch the base branch.
	Secret []byte
	Branch string
	// Pass is one reconcile pass; Interval the safety net's timer.
	Pass     runner.Pass
	Interval time.Duration
	// Watch starts the informers for one term of leadership, requesting passes from
	// run; they stop with ctx. It returns what to call after each pass, and a channel
	// closed once the watch has synced.
	Watch func(ctx context.Context, run *runner.Runner) (afterPass func(runner.Result), synced <-chan struct{}, err error)
	// AfterPass is called after every pass, after the watch's.
	AfterPass func(runner.Result)
	// Election, when set, makes this replica act only while it holds the Lease.
	Election *Election
	Metrics  *Metrics
	Log      *slog.Logger
}

// Election is leader election through a coordination.k8s.io Lease.
type Election struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
	// Identity names this replica in the Lease: unique among replicas.
	Identity string
	// LeaseDuration is how long others wait after the last renewal before taking
	// over; RenewDeadline how long the leader retries renewing before it gives up;
	// RetryPeriod the pause between attempts.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// ReleaseOnCancel gives up the Lease at shutdown, so that another replica takes
	// over at once rather than after LeaseDuration.
	ReleaseOnCancel bool
}

// Lease timings client-go's leader election documents as its defaults for
// controllers: a dead leader is replaced within 15 seconds.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// shutdownTimeout bounds how long the HTTP server waits for requests under way.
const shutdownTimeout = 10 * time.Second

// ErrLostLease is returned when this replica stopped leading before it was asked to
// stop: the process should end, and a new one stand for election, since a replica
// that lost the Lease cannot tell whether a pass of its own is still under way.
var ErrLostLease = errors.New("lost the leader election Lease")

// Run serves until ctx ends, running passes while it leads.
func Run(ctx context.Context, opts Options) error {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	s := &state{opts: opts}
	var httpDone chan error
	var srv *http.Server
	if opts.Listener != nil {
		h := NewHandler(Handler{Metrics: opts.Metrics, Secret: opts.Secret, Branch: opts.Branch, Request: s.request, Ready: s.isReady, Log: opts.Log})
		srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		httpDone = make(chan error, 1)
		go func() { httpDone <- srv.Serve(opts.Listener) }()
		opts.Log.Info("listening", "addr", opts.Listener.Addr().String())
	}
	var err error
	if opts.Election == nil {
		err = s.lead(ctx)
	} else {
		err = s.elect(ctx)
	}
	if srv != nil {
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if serr := srv.Shutdown(shutdown); serr != nil {
			err = errors.Join(err, fmt.Errorf("stopping the HTTP server: %w", serr))
		}
		if serr := <-httpDone; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, fmt.Errorf("serving HTTP: %w", serr))
		}
	}
	return err
}

// state is what the HTTP handlers read of the leading term.
type state struct {
	opts Options

	mu     sync.Mutex
	run    *runner.Runner // the current term's, nil when not leading
	synced <-chan struct{}
}

func (s *state) request(t runner.Trigger) bool {
	s.mu.Lock()
	run := s.run
	s.mu.Unlock()
	if run != nil {
		run.Request(t)
	}
	return run != nil
}

// isReady: a leader once its watch has synced; a replica standing by at once, so that
// a rolling update, whose new pod cannot lead before the old one goes, proceeds.
func (s *state) isReady() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		return s.opts.Election != nil
	}
	if s.synced == nil {
		return false
	}
	select {
	case <-s.synced:
		return true
	default:
		return false
	}
}

// lead runs passes until ctx ends.
func (s *state) lead(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run := &runner.Runner{Pass: s.opts.Pass, Interval: s.opts.Interval}
	afterWatch := func(runner.Result) {}
	synced := make(chan struct{})
	close(synced)
	var out <-chan struct{} = synced
	if s.opts.Watch != nil {
		after, ws, err := s.opts.Watch(ctx, run)
		if err != nil {
			return err
		}
		afterWatch, out = after, ws
	}
	run.AfterPass = func(res runner.Result) {
		afterWatch(res)
		s.opts.Metrics.Pass(res)
		if s.opts.AfterPass != nil {
			s.opts.AfterPass(res)
		}
	}
	s.mu.Lock()
	s.run, s.synced = run, out
	s.mu.Unlock()
	s.opts.Metrics.leader.Set(1)
	defer func() {
		s.opts.Metrics.leader.Set(0)
		s.mu.Lock()
		s.run, s.synced = nil, nil
		s.mu.Unlock()
	}()
	return run.Run(ctx)
}

// elect stands for election and leads while it holds the Lease.
func (s *state) elect(ctx context.Context) error {
	e := s.opts.Election
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: e.Namespace, Name: e.Name},
		Client:     e.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: e.Identity},
	}
	// client-go starts OnStartedLeading in a goroutine of its own, with a context
	// that ends when the Lease is lost; the term is led here, where its end is known.
	leading := make(chan context.Context, 1)
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   or(e.LeaseDuration, DefaultLeaseDuration),
		RenewDeadline:   or(e.RenewDeadline, DefaultRenewDeadline),
		RetryPeriod:     or(e.RetryPeriod, DefaultRetryPeriod),
		ReleaseOnCancel: e.ReleaseOnCancel,
		Name:            e.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) { leading <- ctx },
			OnStoppedLeading: func() {
				s.opts.Log.Info("stopped leading", "lease", e.Namespace+"/"+e.Name, "identity", e.Identity)
			},
			OnNewLeader: func(identity string) {
				if identity != e.Identity {
					s.opts.Log.Info("standing by", "leader", identity)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	electorDone := make(chan struct{})
	go func() {
		defer close(electorDone)
		elector.Run(ctx)
	}()
	select {
	case term := <-leading:
		s.opts.Log.Info("leading", "lease", e.Namespace+"/"+e.Name, "identity", e.Identity)
		err = s.lead(term)
		<-electorDone
	case <-electorDone:
		// Run returns without leading only once ctx has ended; otherwise it led, and
		// lost the Lease before the term began here.
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return errors.Join(ErrLostLease, err)
	}
	return ErrLostLease
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
