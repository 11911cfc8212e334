package engines

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

// Node is a fake node kwok runs: what it offers to the scheduler.
type Node struct {
	Name string
	// CPU and Memory are the node's allocatable, as resource quantities ("8", "16Gi").
	CPU, Memory string
	// PodCIDR, when set, is the node's spec.podCIDR, which kwok gives its pods'
	// addresses from (by default it takes them from 10.0.0.0/24).
	PodCIDR string
}

// FakeNodeAnnotation marks the nodes kwok manages; kwok ignores every other node.
const FakeNodeAnnotation = "kwok.x-k8s.io/node"

// readyTimeout bounds how long a controller or a node may take to come up on two
// shared cores.
const readyTimeout = 3 * time.Minute

var nodeResource = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}

// Workload is a cluster that Workers makes run workloads, and its nodes.
type Workload struct {
	Cluster *kubeenv.Cluster
	Nodes   []Node
}

// Workers makes kubeenv clusters run workloads: for each, it starts a
// kube-controller-manager, a kube-scheduler and kwok, registers the nodes, and returns
// once every node is Ready and free of the not-ready taint, so that pods get
// scheduled. The clusters come up in parallel. Everything stops when the test ends.
func Workers(t testing.TB, workloads ...Workload) {
	t.Helper()
	bins := workerBinaries{
		kcm:       kubeenv.Binary(t, "kube-controller-manager"),
		scheduler: kubeenv.Binary(t, "kube-scheduler"),
		kwok:      tool(t, "kwok", KwokVersion, "kwok"),
		stages:    tool(t, "kwok", KwokVersion, "stages.yaml"),
	}
	errs := make([]error, len(workloads))
	var wg sync.WaitGroup
	for i, w := range workloads {
		wg.Go(func() { errs[i] = startWorkers(t, bins, w) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

type workerBinaries struct{ kcm, scheduler, kwok, stages string }

func startWorkers(t testing.TB, bins workerBinaries, w Workload) error {
	c := w.Cluster
	if len(w.Nodes) == 0 {
		return fmt.Errorf("cluster %s: no nodes", c.Name)
	}
	dir := filepath.Join(c.Dir, "workers")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	_, err := kubeenv.StartProcess(t, "kube-controller-manager "+c.Name, filepath.Join(dir, "kube-controller-manager.log"), nil, bins.kcm,
		"--kubeconfig="+c.Kubeconfig,
		// The node lifecycle controller lifts the not-ready taint once kwok reports
		// a node Ready; nodeipam needs a cluster CIDR these clusters do not have, and
		// the token controller a signing key that nothing here uses.
		"--controllers=*,-nodeipam,-serviceaccount-token",
		// kwok renews node leases from an informer cache that Debian's etcd 3.4 keeps
		// stale at times (no watch progress notifications for streamed lists), so a
		// renewal can conflict and wait for the next one; a node whose lease is late
		// by the default 50 s must not go NotReady and take its pods with it.
		"--node-monitor-grace-period=5m",
		"--leader-elect=false",
		"--secure-port=0",
		"--cluster-name="+c.Name,
		"--v=1",
	)
	if err != nil {
		return err
	}
	if _, err := kubeenv.StartProcess(t, "kube-scheduler "+c.Name, filepath.Join(dir, "kube-scheduler.log"), nil, bins.scheduler,
		"--kubeconfig="+c.Kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--v=1",
	); err != nil {
		return err
	}
	kwok, err := kubeenv.StartProcess(t, "kwok "+c.Name, filepath.Join(dir, "kwok.log"), nil, bins.kwok,
		"--kubeconfig="+c.Kubeconfig,
		"--config="+bins.stages,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+FakeNodeAnnotation+"=fake",
		// The stages heartbeat through node leases (node-heartbeat-with-lease);
		// without a lease duration kwok renews none.
		"--node-lease-duration-seconds=40",
	)
	if err != nil {
		return err
	}
	ctx := t.Context()
	for _, n := range w.Nodes {
		if _, err := c.Dynamic.Resource(nodeResource).Create(ctx, fakeNode(n), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("cluster %s: registering node %s: %w", c.Name, n.Name, err)
		}
	}
	for _, n := range w.Nodes {
		err := kwok.WaitFor(readyTimeout, "node "+n.Name+" Ready and schedulable", func() error {
			obj, err := c.Dynamic.Resource(nodeResource).Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			return nodeSchedulable(obj)
		})
		if err != nil {
			return fmt.Errorf("cluster %s: %w", c.Name, err)
		}
	}
	return nil
}

// fakeNode is the Node object of n, with its allocatable in its status: a node may be
// created with its status, and kwok keeps what it finds there.
func fakeNode(n Node) *unstructured.Unstructured {
	resources := map[string]any{"cpu": n.CPU, "memory": n.Memory, "pods": "110"}
	node := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Node",
		"metadata": map[string]any{
			"name":        n.Name,
			"annotations": map[string]any{FakeNodeAnnotation: "fake"},
			"labels": map[string]any{
				"type":                   "kwok",
				"kubernetes.io/hostname": n.Name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
			},
		},
		"status": map[string]any{"allocatable": resources, "capacity": resources},
	}}
	if n.PodCIDR != "" {
		node.Object["spec"] = map[string]any{"podCIDR": n.PodCIDR, "podCIDRs": []any{n.PodCIDR}}
	}
	return node
}

// nodeSchedulable returns nil once the node is Ready and carries no NoSchedule or
// NoExecute taint.
func nodeSchedulable(node *unstructured.Unstructured) error {
	conditions, _, _ := unstructured.NestedSlice(node.Object, "status", "conditions")
	ready := false
	for _, c := range conditions {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" && m["status"] == "True" {
			ready = true
		}
	}
	if !ready {
		return errors.New("not Ready")
	}
	taints, _, _ := unstructured.NestedSlice(node.Object, "spec", "taints")
	for _, tt := range taints {
		m, _ := tt.(map[string]any)
		if m["effect"] == "NoSchedule" || m["effect"] == "NoExecute" {
			return fmt.Errorf("tainted %v=%v:%v", m["key"], m["value"], m["effect"])
		}
	}
	return nil
}
