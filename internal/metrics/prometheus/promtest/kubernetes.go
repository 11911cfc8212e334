package promtest

import (
	"fmt"
	"time"
)

// Workload is a Deployment whose pods the series describe, as cAdvisor and
// kube-state-metrics report them with a cluster label added by the federation or
// remote-write setup.
type Workload struct {
	Cluster, Namespace, Name string
	// Pods is the number of replicas; 1 when zero.
	Pods int
	// CPU and Memory give the whole workload's usage (cores, bytes) at a time; the
	// pods share it evenly.
	CPU    func(time.Time) float64
	Memory func(time.Time) float64
	// Requests of the whole workload (cores, bytes).
	CPURequest, MemoryRequest float64
}

// Node is one node's allocatable resources.
type Node struct {
	Cluster, Name string
	CPU, Memory   float64
}

// Constant returns a usage function that never changes.
func Constant(v float64) func(time.Time) float64 { return func(time.Time) float64 { return v } }

// KubernetesSeries returns the standard series of the workloads and nodes from from to
// to, one sample every step: container_cpu_usage_seconds_total (a counter integrating
// CPU), container_memory_working_set_bytes, kube_pod_container_resource_requests and
// kube_node_status_allocatable.
func KubernetesSeries(workloads []Workload, nodes []Node, from, to time.Time, step time.Duration) []Family {
	cpu := Family{Name: "container_cpu_usage_seconds_total", Type: "counter", Help: "Cumulative cpu time consumed in seconds."}
	mem := Family{Name: "container_memory_working_set_bytes", Type: "gauge", Help: "Current working set in bytes."}
	requests := Family{Name: "kube_pod_container_resource_requests", Type: "gauge", Help: "The number of requested resource by a container."}
	allocatable := Family{Name: "kube_node_status_allocatable", Type: "gauge", Help: "The allocatable resources of a node."}
	var times []time.Time
	for t := from; !t.After(to); t = t.Add(step) {
		times = append(times, t)
	}
	for _, w := range workloads {
		pods := max(w.Pods, 1)
		for i := range pods {
			pod := fmt.Sprintf("%s-7d9f8b6c5d-p%04d", w.Name, i)
			container := map[string]string{"cluster": w.Cluster, "namespace": w.Namespace, "pod": pod, "container": w.Name}
			usage := withLabels(container, map[string]string{"image": "registry.test/" + w.Name + ":1"})
			var counter float64
			cpuSeries, memSeries := Series{Labels: usage}, Series{Labels: usage}
			for j, t := range times {
				if j > 0 && w.CPU != nil {
					counter += w.CPU(t) / float64(pods) * step.Seconds()
				}
				if w.CPU != nil {
					cpuSeries.Samples = append(cpuSeries.Samples, Sample{t, counter})
				}
				if w.Memory != nil {
					memSeries.Samples = append(memSeries.Samples, Sample{t, w.Memory(t) / float64(pods)})
				}
			}
			if w.CPU != nil {
				cpu.Series = append(cpu.Series, cpuSeries)
			}
			if w.Memory != nil {
				mem.Series = append(mem.Series, memSeries)
			}
			if w.CPURequest > 0 {
				requests.Series = append(requests.Series, constantSeries(withLabels(container, map[string]string{"resource": "cpu", "unit": "core"}), w.CPURequest/float64(pods), times))
			}
			if w.MemoryRequest > 0 {
				requests.Series = append(requests.Series, constantSeries(withLabels(container, map[string]string{"resource": "memory", "unit": "byte"}), w.MemoryRequest/float64(pods), times))
			}
		}
	}
	for _, n := range nodes {
		node := map[string]string{"cluster": n.Cluster, "node": n.Name}
		allocatable.Series = append(allocatable.Series,
			constantSeries(withLabels(node, map[string]string{"resource": "cpu", "unit": "core"}), n.CPU, times),
			constantSeries(withLabels(node, map[string]string{"resource": "memory", "unit": "byte"}), n.Memory, times))
	}
	var families []Family
	for _, f := range []Family{cpu, mem, requests, allocatable} {
		if len(f.Series) > 0 {
			families = append(families, f)
		}
	}
	return families
}

func constantSeries(labels map[string]string, v float64, times []time.Time) Series {
	s := Series{Labels: labels, Samples: make([]Sample, len(times))}
	for i, t := range times {
		s.Samples[i] = Sample{t, v}
	}
	return s
}

func withLabels(base, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}
