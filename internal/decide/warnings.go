package decide

import (
	"fmt"

	"github.com/gitmig/gitmig/internal/metrics"
)

// snapshotWarnings says where the snapshot and gitmig.yaml do not meet: numbers of a
// cluster or namespace that gitmig.yaml does not have, which the plan cannot use, and
// services without a workload where they run, which the plan cannot weigh. None stops
// the plan, but each is most often a name mistyped in a snapshot file or a
// clusterLabel that Prometheus spells otherwise.
//
// Workloads that are no service of gitmig.yaml are not warned about: a snapshot read
// from Prometheus lists every Deployment of every cluster, and the plan reads a
// workload only as the size of a service.
func (e *engine) snapshotWarnings(snap *metrics.Snapshot) []string {
	var warnings []string
	workloadsIn := map[string]int{}
	for _, w := range snap.Workloads {
		workloadsIn[w.Cluster]++
	}
	for i, c := range snap.Clusters {
		if _, ok := e.byName[c.Name]; ok {
			continue
		}
		w := fmt.Sprintf("metrics snapshot clusters[%d]: %q is not a cluster of gitmig.yaml; its numbers are not used", i, c.Name)
		if n := workloadsIn[c.Name]; n > 0 {
			w += fmt.Sprintf(", nor those of its %d workload(s)", n)
		}
		warnings = append(warnings, w)
	}
	for i, w := range snap.Workloads {
		s := e.service(w.Name)
		if s == nil || s.cfg.Namespace == w.Namespace || e.byName[w.Cluster] == nil {
			continue
		}
		warnings = append(warnings, fmt.Sprintf("metrics snapshot workloads[%d]: %s/%s in %s is not service %s of gitmig.yaml, whose namespace is %s; its numbers are not used",
			i, w.Namespace, w.Name, w.Cluster, w.Name, s.cfg.Namespace))
	}
	for _, s := range e.services {
		for _, c := range s.running {
			if c.state == metrics.StateUnknown {
				continue
			}
			if _, ok := e.workloads[workloadKey{c.name, s.cfg.Namespace, s.cfg.Name}]; !ok {
				warnings = append(warnings, fmt.Sprintf("service %s runs in %s, but the metrics snapshot has no workload %s/%s there, so its usage is unknown",
					s.cfg.Name, c.name, s.cfg.Namespace, s.cfg.Name))
			}
		}
	}
	return warnings
}
