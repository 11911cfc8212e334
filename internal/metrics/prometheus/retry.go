package prometheus

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/api"
	"k8s.io/apimachinery/pkg/util/wait"
)

// retryingClient retries the requests that may succeed a moment later: transport
// errors, 429 Too Many Requests, 502 Bad Gateway, 503 Service Unavailable (a
// Prometheus still starting or overloaded) and 504 Gateway Timeout (a proxy in front
// of it). It waits as the server's Retry-After says when it says, else by backoff.
// Every other answer, 4xx included, is returned at once. The caller's context bounds
// the whole: attempts and waits together.
type retryingClient struct {
	next    api.Client
	backoff wait.Backoff
}

// retryStatus reports the answers worth another try.
func retryStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func (c *retryingClient) URL(ep string, args map[string]string) *url.URL {
	return c.next.URL(ep, args)
}

func (c *retryingClient) Do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	backoff := c.backoff // Step counts down a copy: every request gets all its attempts.
	for attempt := 1; ; attempt++ {
		try, err := rewind(req)
		if err != nil {
			return nil, nil, err
		}
		resp, body, err := c.next.Do(ctx, try)
		retryable := err != nil || retryStatus(resp.StatusCode)
		if !retryable || backoff.Steps <= 1 || ctx.Err() != nil {
			if err != nil && attempt > 1 {
				err = fmt.Errorf("after %d attempts: %w", attempt, err)
			}
			return resp, body, err
		}
		wait := backoff.Step()
		if after, ok := retryAfter(resp); ok {
			wait = after
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			if err == nil {
				err = fmt.Errorf("after %d attempts, giving up while waiting %s to retry: %w", attempt, wait, ctx.Err())
			}
			return resp, body, err
		case <-timer.C:
		}
	}
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if seconds, err := strconv.Atoi(v); err == nil && seconds >= 0 {
		return time.Duration(seconds) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(time.Until(at), 0), true
	}
	return 0, false
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
