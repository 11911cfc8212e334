package engines

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

var (
	deploymentResource = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	podResource        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

// TestWorkersRunDeploymentsWithinCapacity checks what the scenarios rely on: a
// Deployment that fits the fake node becomes Available through real ReplicaSets, a
// scheduler and kwok; one that asks for more than the node's allocatable stays
// Pending.
func TestWorkersRunDeploymentsWithinCapacity(t *testing.T) {
	env := kubeenv.Start(t, "one")
	c := env.Cluster("one")
	Workers(t, Workload{Cluster: c, Nodes: []Node{{Name: "one-0", CPU: "2", Memory: "4Gi"}}})
	ctx := t.Context()
	objs, err := kubeenv.ParseYAML([]byte(deployment("fits", "500m") + "---\n" + deployment("too-big", "3")))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Applier("test").Apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
	err = kubeenv.Poll(ctx, 200*time.Millisecond, 2*time.Minute, "Deployment fits available", func() error {
		d, err := c.Dynamic.Resource(deploymentResource).Namespace("default").Get(ctx, "fits", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n, _, _ := unstructured.NestedInt64(d.Object, "status", "availableReplicas"); n != 2 {
			return fmt.Errorf("%d of 2 replicas available", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.Dynamic.Resource(podResource).Namespace("default").List(ctx, metav1.ListOptions{LabelSelector: "app=too-big"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Fatalf("%d pods of too-big, want 2", len(list.Items))
	}
	for _, p := range list.Items {
		phase, _, _ := unstructured.NestedString(p.Object, "status", "phase")
		node, _, _ := unstructured.NestedString(p.Object, "spec", "nodeName")
		if phase != "Pending" || node != "" {
			t.Errorf("pod %s of too-big is %s on %q, want Pending and unscheduled", p.GetName(), phase, node)
		}
	}
}

func deployment(name, cpu string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
        - name: app
          image: example.invalid/app:1
          resources: {requests: {cpu: %[2]q, memory: 1Gi}}
`, name, cpu)
}
