package decide

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/api"
)

// retryingClient retries the requests that may succeed a moment later: transport
// errors and 503 Service Unavailable (a Prometheus still starting or overloaded). Every
// other answer, 4xx included, is returned at once.
type retryingClient struct {
	next     api.Client
	attempts int
	backoff  time.Duration
	// attemptTimeout bounds one request, so a hung connection uses one attempt, not all.
	attemptTimeout time.Duration
}

func (c *retryingClient) URL(ep string, args map[string]string) *url.URL {
	return c.next.URL(ep, args)
}

func (c *retryingClient) Do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	wait := c.backoff
	for attempt := 1; ; attempt++ {
		try, err := rewind(req)
		if err != nil {
			return nil, nil, err
		}
		resp, body, err := c.do(ctx, try)
		retryable := err != nil || resp.StatusCode == http.StatusServiceUnavailable
		if !retryable || attempt >= c.attempts || ctx.Err() != nil {
			if err != nil && attempt > 1 {
				err = fmt.Errorf("after %d attempts: %w", attempt, err)
			}
			return resp, body, err
		}
		select {
		case <-ctx.Done():
			return resp, body, err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (c *retryingClient) do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.attemptTimeout)
	defer cancel()
	return c.next.Do(ctx, req)
}

// rewind returns a copy of req whose body can be read again.
func rewind(req *http.Request) (*http.Request, error) {
	try := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("rewinding request body: %w", err)
		}
		try.Body = body
	}
	return try, nil
}
