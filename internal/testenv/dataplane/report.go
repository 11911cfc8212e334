package dataplane

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Report is what the probes saw during a migration and its negative control.
type Report struct {
	Service  string `json:"service"`
	From     string `json:"from"`
	To       string `json:"to"`
	Engine   string `json:"engine"`
	Requests int    `json:"requests"`
	Failed   int    `json:"failed"`
	// Probes cover the migration, from its start to a little after it completed.
	Probes          []ProbeReport `json:"probes"`
	Steps           []StepReport  `json:"steps"`
	NegativeControl *Window       `json:"negativeControl,omitempty"`
}

// ProbeReport is one probe's requests during the migration.
type ProbeReport struct {
	Client   string         `json:"client"`
	Cluster  string         `json:"cluster"`
	Port     string         `json:"port"`
	Protocol Protocol       `json:"protocol"`
	Requests int            `json:"requests"`
	Failed   int            `json:"failed"`
	ServedBy map[string]int `json:"servedBy"`
	P50Ms    float64        `json:"p50Ms"`
	P99Ms    float64        `json:"p99Ms"`
	// LastFrom and FirstTo are when the probe's last request answered by the source
	// started, and its first answered by the destination: the switch.
	LastFrom *time.Time `json:"lastFrom,omitempty"`
	FirstTo  *time.Time `json:"firstTo,omitempty"`
	// FromP50Ms and ToP50Ms are the median latencies of the requests the source and
	// the destination answered.
	FromP50Ms float64 `json:"fromP50Ms"`
	ToP50Ms   float64 `json:"toP50Ms"`
	// Errors counts the failed requests by error; Failures are the first of them.
	Errors   map[string]int `json:"errors,omitempty"`
	Failures []Failure      `json:"failures,omitempty"`
}

// Failure is one failed request.
type Failure struct {
	At       time.Time `json:"at"`
	Name     string    `json:"name"`
	Address  string    `json:"address,omitempty"`
	LookupMs float64   `json:"lookupMs"`
	Ms       float64   `json:"ms"`
	Err      string    `json:"error"`
}

// maxFailures is how many failures a ProbeReport lists.
const maxFailures = 20

// StepReport is one step: when it was merged and applied, and the requests that
// started from its merge to the next step's (to the end of the migration for the
// last).
type StepReport struct {
	N         int       `json:"n"`
	Name      string    `json:"name"`
	Cluster   string    `json:"cluster"`
	MergedAt  time.Time `json:"mergedAt"`
	AppliedAt time.Time `json:"appliedAt"`
	Requests  int       `json:"requests"`
	Failed    int       `json:"failed"`
}

// Window is the requests of every probe in a span of time.
type Window struct {
	Description string         `json:"description"`
	Start       time.Time      `json:"start"`
	End         time.Time      `json:"end"`
	Requests    int            `json:"requests"`
	Failed      int            `json:"failed"`
	Errors      map[string]int `json:"errors,omitempty"`
}

// Measure counts the probes' requests that started in [start, end).
func (p *Plane) Measure(description string, start, end time.Time) *Window {
	w := &Window{Description: description, Start: start, End: end}
	for _, pr := range p.Probes {
		for _, r := range between(pr.Records(), start, end) {
			w.Requests++
			if r.Err != "" {
				w.Failed++
				w.Errors = countError(w.Errors, r.Err)
			}
		}
	}
	return w
}

// Report describes the probes' requests in [start, end), the migration of service
// from one cluster to another, with the steps' merges and applies filled in
// steps.
func (p *Plane) Report(service, from, to, engine string, steps []StepReport, start, end time.Time) *Report {
	rep := &Report{Service: service, From: from, To: to, Engine: engine, Steps: steps}
	for i := range rep.Steps {
		st := &rep.Steps[i]
		stepEnd := end
		if i+1 < len(rep.Steps) {
			stepEnd = rep.Steps[i+1].MergedAt
		}
		w := p.Measure("", st.MergedAt, stepEnd)
		st.Requests, st.Failed = w.Requests, w.Failed
	}
	for _, pr := range p.Probes {
		records := between(pr.Records(), start, end)
		pp := ProbeReport{Client: pr.Client, Cluster: pr.Cluster, Port: pr.Port, Protocol: pr.Protocol, Requests: len(records), ServedBy: map[string]int{}}
		var all, fromLat, toLat []time.Duration
		for _, r := range records {
			if r.Err != "" {
				pp.Failed++
				pp.Errors = countError(pp.Errors, r.Err)
				if len(pp.Failures) < maxFailures {
					pp.Failures = append(pp.Failures, Failure{At: r.At, Name: r.Name, Address: r.Address, LookupMs: ms(r.Lookup), Ms: ms(r.Latency), Err: r.Err})
				}
				continue
			}
			pp.ServedBy[r.ServedBy]++
			all = append(all, r.Latency)
			switch r.ServedBy {
			case from:
				fromLat = append(fromLat, r.Latency)
				pp.LastFrom = &r.At
			case to:
				toLat = append(toLat, r.Latency)
				if pp.FirstTo == nil {
					pp.FirstTo = &r.At
				}
			}
		}
		pp.P50Ms, pp.P99Ms = quantileMs(all, 0.5), quantileMs(all, 0.99)
		pp.FromP50Ms, pp.ToP50Ms = quantileMs(fromLat, 0.5), quantileMs(toLat, 0.5)
		rep.Requests += pp.Requests
		rep.Failed += pp.Failed
		rep.Probes = append(rep.Probes, pp)
	}
	return rep
}

func between(records []Record, start, end time.Time) []Record {
	var out []Record
	for _, r := range records {
		// A record not yet finished has no time.
		if !r.At.IsZero() && !r.At.Before(start) && r.At.Before(end) {
			out = append(out, r)
		}
	}
	return out
}

// countError counts an error by its text, without the addresses and ports that make
// each one unique.
func countError(m map[string]int, err string) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	err = addrPort.ReplaceAllString(err, "$1:*")
	if len(m) < 20 {
		m[err]++
	} else {
		m["(other errors)"]++
	}
	return m
}

// addrPort is an address and port in an error; the port is left out when counting.
var addrPort = regexp.MustCompile(`(\d+\.\d+\.\d+\.\d+):\d+`)

func quantileMs(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	return ms(sorted[min(len(sorted)-1, int(q*float64(len(sorted))))])
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Table renders the report as the Markdown tables of docs/dataplane.md.
func (r *Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s→%s with %s: %d requests, %d failed\n\n", r.Service, r.From, r.To, r.Engine, r.Requests, r.Failed)
	b.WriteString("| step | cluster | merged → applied | requests | failed |\n|---|---|---|---|---|\n")
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "| %d %s | %s | %.1f s | %d | %d |\n", s.N, s.Name, s.Cluster, s.AppliedAt.Sub(s.MergedAt).Seconds(), s.Requests, s.Failed)
	}
	var flip time.Time
	for _, s := range r.Steps {
		if s.N == 3 {
			flip = s.AppliedAt
		}
	}
	b.WriteString("\n| client | port | protocol | requests | failed | served by | p50 / p99 | p50 " + r.From + " → " + r.To + " | switch (vs flip applied) |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range r.Probes {
		var served []string
		for c, n := range p.ServedBy {
			served = append(served, fmt.Sprintf("%s %d", c, n))
		}
		sort.Strings(served)
		switched := "-"
		if p.LastFrom != nil && p.FirstTo != nil && !flip.IsZero() {
			switched = fmt.Sprintf("last %s %+.2f s, first %s %+.2f s", r.From, p.LastFrom.Sub(flip).Seconds(), r.To, p.FirstTo.Sub(flip).Seconds())
		}
		fmt.Fprintf(&b, "| %s in %s | %s | %s | %d | %d | %s | %.2f / %.2f ms | %.2f → %.2f ms | %s |\n",
			p.Client, p.Cluster, p.Port, p.Protocol, p.Requests, p.Failed, strings.Join(served, ", "), p.P50Ms, p.P99Ms, p.FromP50Ms, p.ToP50Ms, switched)
	}
	if w := r.NegativeControl; w != nil {
		fmt.Fprintf(&b, "\nnegative control (%s): %d requests, %d failed\n", w.Description, w.Requests, w.Failed)
	}
	return b.String()
}
