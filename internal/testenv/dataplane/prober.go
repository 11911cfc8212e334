package dataplane

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ProbeRate is how many requests a probe makes per second, each on a new connection
// after a new DNS lookup.
const ProbeRate = 25

// requestTimeout bounds one request, lookup included: a request that takes longer has
// failed.
const requestTimeout = 2 * time.Second

// searchNdots is the ndots of a pod's resolv.conf: a name with fewer dots is tried
// with the search domains first.
const searchNdots = 5

// Record is one request of a probe.
type Record struct {
	At      time.Time
	Latency time.Duration
	// Name is the name the client dialled, Address what it resolved to, and Lookup
	// how long resolving took.
	Name    string
	Address string
	Lookup  time.Duration
	// ServedBy is the cluster that answered; empty when the request failed.
	ServedBy string
	Err      string
}

// Probe is a client of a Service in one cluster calling one of its ports
// continuously, by the Service's in-cluster names, through the cluster's CoreDNS.
type Probe struct {
	// Client is the calling service, Cluster where it runs.
	Client, Cluster string
	// Service and Namespace are the Service called; Port its port's name, Number its
	// port number.
	Service, Namespace, Port string
	Number                   int32
	Protocol                 Protocol

	clientNamespace string
	ns              *netns
	roots           *x509.CertPool

	mu      sync.Mutex
	records []Record
}

// Records returns the probe's records so far, in the order the requests started.
func (p *Probe) Records() []Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Record(nil), p.records...)
}

// names are what the client dials in turn: the Service's names from another
// namespace, and its bare name too from its own.
func (p *Probe) names() []string {
	names := serviceNames(p.Service, p.Namespace)
	if p.clientNamespace != p.Namespace {
		names = names[1:]
	}
	return names
}

// run calls the port ProbeRate times a second until ctx ends or limit has passed,
// each request in its own goroutine so that a slow one does not hold the next back.
func (p *Probe) run(ctx context.Context, limit time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	resolver := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return p.ns.dial(ctx, network, net.JoinHostPort(dnsAddress, "53"))
		},
	}
	names := p.names()
	ticker := time.NewTicker(time.Second / ProbeRate)
	defer ticker.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		slot := p.start()
		wg.Go(func() {
			name := names[i%len(names)]
			start := time.Now()
			r := Record{At: start, Name: name}
			answer, err := p.request(context.Background(), resolver, &r)
			r.Latency, r.ServedBy = time.Since(start), clusterOf(answer)
			if err != nil {
				r.Err, r.ServedBy = err.Error(), ""
			} else if r.ServedBy == "" {
				r.Err = fmt.Sprintf("answer %q names no cluster", answer)
			}
			p.finish(slot, r)
		})
	}
}

// start reserves the record of a request about to start, so that records stay in the
// order requests started.
func (p *Probe) start() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records = append(p.records, Record{})
	return len(p.records) - 1
}

func (p *Probe) finish(slot int, r Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records[slot] = r
}

// request looks r.Name up as a pod in the client's namespace would and makes one
// call, noting in r the address and how long the lookup took.
func (p *Probe) request(ctx context.Context, resolver *net.Resolver, r *Record) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	ip, err := p.lookup(ctx, resolver, r.Name)
	r.Lookup = time.Since(r.At)
	if err != nil {
		return "", err
	}
	port := strconv.Itoa(int(p.Number))
	r.Address = net.JoinHostPort(ip.String(), port)
	conn, err := p.ns.dial(ctx, "tcp", r.Address)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return call(ctx, conn, p.Protocol, net.JoinHostPort(r.Name, port), p.roots)
}

// lookup resolves name with the search path of a pod in the client's namespace, as
// its resolv.conf would have it, asking the cluster's CoreDNS for A records. Go's
// resolver keeps no cache: every lookup is a query.
func (p *Probe) lookup(ctx context.Context, resolver *net.Resolver, name string) (net.IP, error) {
	var candidates []string
	if strings.Count(name, ".") < searchNdots {
		for _, domain := range []string{p.clientNamespace + ".svc.cluster.local", "svc.cluster.local", "cluster.local"} {
			candidates = append(candidates, name+"."+domain)
		}
	}
	candidates = append(candidates, name)
	var last error
	for _, c := range candidates {
		ips, err := resolver.LookupIP(ctx, "ip4", c+".")
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			last = err
			continue
		}
		if err != nil {
			return nil, err
		}
		return ips[0], nil
	}
	return nil, last
}
