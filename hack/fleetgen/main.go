// Command fleetgen writes a generated fleet repository, for trying gitmig at scale:
//
//	go run ./hack/fleetgen -services 5000 -clusters 100 -out /tmp/fleet
//
// The folder gets gitmig.yaml, base/, clusters/ and metrics.yaml, a snapshot in which
// -overloaded edge clusters are overloaded; `gitmig plan --repo DIR --metrics
// DIR/metrics.yaml` plans from it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gitmig/gitmig/internal/fleetgen"
)

func main() {
	var p fleetgen.Params
	out := flag.String("out", "", "folder to write the fleet into (required)")
	flag.IntVar(&p.Services, "services", 1000, "number of services")
	flag.IntVar(&p.Clusters, "clusters", 100, "number of clusters: 60% edge, 30% fog, 10% cloud")
	flag.IntVar(&p.RoutedEvery, "routed-every", 3, "route one service in N through an IngressRoute, called from another cluster (0: none)")
	flag.IntVar(&p.Overloaded, "overloaded", 6, "number of overloaded edge clusters")
	flag.IntVar(&p.MaxConcurrent, "max-concurrent", 1, "policy.maxConcurrent")
	flag.StringVar(&p.Remote, "remote", "", "gitops.remote (default fleet.git)")
	flag.Parse()
	if err := run(*out, p); err != nil {
		fmt.Fprintln(os.Stderr, "fleetgen:", err)
		os.Exit(1)
	}
}

func run(out string, p fleetgen.Params) error {
	if out == "" {
		return fmt.Errorf("-out is required")
	}
	fleet, err := fleetgen.Generate(p)
	if err != nil {
		return err
	}
	return fleet.WriteDir(out)
}
