package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/gitmig/gitmig/internal/gitops/forge"
)

// ErrBadCredentials is wrapped by the error for a token GitHub rejects (401).
var ErrBadCredentials = errors.New("bad credentials")

// defaultRetry is how long to wait after a rate limit that names no time:
// GitHub's documentation asks for at least one minute.
const defaultRetry = time.Minute

// apiError is a GitHub answer other than success, reduced to what helps a person:
// the status, GitHub's message and the request ID to quote to GitHub support.
// It deliberately holds no URL, header or go-github value.
type apiError struct {
	status    int
	message   string
	requestID string
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("GitHub answered %d %s", e.status, http.StatusText(e.status))
	if e.message != "" {
		msg += ": " + e.message
	}
	if e.requestID != "" {
		msg += " (request " + e.requestID + ")"
	}
	return msg
}

// fail turns an error from go-github into this package's errors. op says what was
// being done; a non-zero number appends "pull request #number" to it and makes a
// 404 mean forge.ErrNotFound.
func (f *Forge) fail(ctx context.Context, op string, number int, resp *gh.Response, err error) error {
	if number != 0 {
		op = fmt.Sprintf("%s pull request #%d", op, number)
	}
	op = "github: " + op
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", op, ctxErr)
	}

	var (
		hr      *http.Response
		message string
		rl      *gh.RateLimitError
		abuse   *gh.AbuseRateLimitError
		er      *gh.ErrorResponse
		ue      *url.Error
	)
	if resp != nil {
		hr = resp.Response
	}
	switch {
	case errors.As(err, &rl):
		message = rl.Message
		hr = rl.Response
	case errors.As(err, &abuse):
		message = abuse.Message
		hr = abuse.Response
	case errors.As(err, &er):
		message = describe(er)
		hr = er.Response
	case errors.As(err, &ue):
		// The URL is left out; the cause (a refused connection, a timeout) is
		// a standard library error and kept for errors.Is.
		return fmt.Errorf("%s: request failed: %w", op, ue.Err)
	case hr == nil:
		return fmt.Errorf("%s: %s", op, f.redact.String(err.Error()))
	case hr.StatusCode >= 200 && hr.StatusCode < 300 && hr.StatusCode != http.StatusAccepted:
		// A success whose body is not the JSON GitHub documents.
		return fmt.Errorf("%s: reading GitHub's answer: %s", op, f.redact.String(err.Error()))
	}
	message = f.redact.String(message)

	if limit := f.rateLimit(hr, message); limit != nil {
		return fmt.Errorf("%s: %w", op, limit)
	}
	// go-github remembers a limit and refuses later calls without sending them,
	// with a made-up 403 that has no headers; its own numbers are then all we have.
	if rl != nil {
		reset := rl.Rate.Reset.Time
		if reset.IsZero() {
			reset = f.now().Add(defaultRetry)
		}
		return fmt.Errorf("%s: %w", op, &forge.RateLimitError{Reset: reset.UTC(), Message: message})
	}
	if abuse != nil {
		wait := defaultRetry
		if abuse.RetryAfter != nil {
			wait = *abuse.RetryAfter
		}
		return fmt.Errorf("%s: %w", op, &forge.RateLimitError{Reset: f.now().Add(wait).UTC(), Secondary: true, Message: message})
	}

	status := 0
	if hr != nil {
		status = hr.StatusCode
	}
	switch status {
	case http.StatusUnauthorized:
		if !f.hasToken {
			return fmt.Errorf("%s: GitHub requires a token%s: %w", op, f.fromEnv(" in $"), ErrBadCredentials)
		}
		return fmt.Errorf("%s: GitHub rejected the token%s: %w", op, f.fromEnv(" from $"), ErrBadCredentials)
	case http.StatusNotFound:
		if number != 0 {
			return fmt.Errorf("%s: %w", op, forge.ErrNotFound)
		}
		// GitHub answers 404, not 403, for a private repository the token cannot see.
		return fmt.Errorf("%s: repository %s/%s not found, or the token cannot see it: %w",
			op, f.owner, f.repo, &apiError{status: status, message: message, requestID: requestID(hr)})
	case http.StatusForbidden:
		return fmt.Errorf("%s: %w; does the token have contents, pull requests, issues and statuses permissions on %s/%s?",
			op, &apiError{status: status, message: message, requestID: requestID(hr)}, f.owner, f.repo)
	case http.StatusAccepted:
		return fmt.Errorf("%s: GitHub accepted the request but has not finished it; try again later", op)
	}
	return fmt.Errorf("%s: %w", op, &apiError{status: status, message: message, requestID: requestID(hr)})
}

// rateLimit recognises GitHub's rate limit answers, as documented in "Rate limits
// for the REST API": a 403 or 429 whose x-ratelimit-remaining is 0 (the primary
// limit, until x-ratelimit-reset), or one with retry-after or a message naming a
// secondary rate limit (until retry-after seconds from now, else a minute).
func (f *Forge) rateLimit(hr *http.Response, message string) *forge.RateLimitError {
	if hr == nil || (hr.StatusCode != http.StatusForbidden && hr.StatusCode != http.StatusTooManyRequests) {
		return nil
	}
	h := hr.Header
	retryAfter, hasRetryAfter := seconds(h.Get("Retry-After"))
	exhausted := h.Get("X-RateLimit-Remaining") == "0"
	lower := strings.ToLower(message)
	secondary := hasRetryAfter || strings.Contains(lower, "secondary rate limit") || strings.Contains(lower, "abuse detection")
	switch {
	case secondary, exhausted:
	case hr.StatusCode == http.StatusTooManyRequests:
		// Too many requests, without saying which limit: treat it as secondary.
		secondary = true
	default:
		return nil
	}

	now := f.now()
	reset := now.Add(defaultRetry)
	if hasRetryAfter {
		reset = now.Add(time.Duration(retryAfter) * time.Second)
	} else if epoch, ok := seconds(h.Get("X-RateLimit-Reset")); ok && exhausted {
		reset = time.Unix(epoch, 0)
	}
	return &forge.RateLimitError{Reset: reset.UTC(), Secondary: secondary, Message: message}
}

func seconds(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n, err == nil && n >= 0
}

// describe joins GitHub's message with the details of a validation error.
func describe(e *gh.ErrorResponse) string {
	parts := []string{e.Message}
	for _, d := range e.Errors {
		switch {
		case d.Message != "":
			parts = append(parts, d.Message)
		case d.Code != "":
			parts = append(parts, fmt.Sprintf("%s %s %s", d.Resource, d.Field, d.Code))
		}
	}
	return strings.Join(parts, ": ")
}

func requestID(hr *http.Response) string {
	if hr == nil {
		return ""
	}
	return hr.Header.Get("X-GitHub-Request-Id")
}

// fromEnv names the token's environment variable after prefix, if known.
func (f *Forge) fromEnv(prefix string) string {
	if f.tokenEnv == "" {
		return ""
	}
	return prefix + f.tokenEnv
}

// redact removes the token from text that came from elsewhere. GitHub does not
// echo tokens, but a proxy or a custom transport might.
func isStatus(resp *gh.Response, status int) bool {
	return resp != nil && resp.Response != nil && resp.StatusCode == status
}
