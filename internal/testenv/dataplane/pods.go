package dataplane

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// podSyncInterval is how often the pod servers follow the cluster's pods and
// Services. kwok makes a pod Ready at once, so between a pod's Ready and its server
// listening there is up to this much (see docs/dataplane.md).
const podSyncInterval = 100 * time.Millisecond

// podServers gives every Ready pod of a cluster its address on the cluster's pods
// link and, for each port of each Service selecting it, a server on the port's
// target in the port's protocol, answering with the cluster's and the pod's names.
type podServers struct {
	cluster string
	net     *clusterNet
	client  kubernetes.Interface
	ca      *testCA

	mu      sync.Mutex
	serving map[string]*podServer // by pod IP
	errs    []error
}

// podServer is what runs for one pod: its listeners by port.
type podServer struct {
	pod       string
	listeners map[int32]net.Listener
}

// startPodServers follows the cluster's pods until the test ends; failures to start a
// server fail the test.
func startPodServers(t testing.TB, cluster string, cn *clusterNet, client kubernetes.Interface, ca *testCA) *podServers {
	s := &podServers{cluster: cluster, net: cn, client: client, ca: ca, serving: map[string]*podServer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(podSyncInterval)
		defer ticker.Stop()
		for {
			if err := s.sync(ctx); err != nil && ctx.Err() == nil {
				s.fail(err)
			}
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		s.mu.Lock()
		defer s.mu.Unlock()
		for ip, ps := range s.serving {
			ps.close()
			delete(s.serving, ip)
		}
		for _, err := range s.errs {
			t.Errorf("pod servers of %s: %v", cluster, err)
		}
	})
	return s
}

func (s *podServers) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) < 10 {
		s.errs = append(s.errs, err)
	}
}

// sync starts the servers of Ready pods that have none and stops those of pods that
// are gone or no longer Ready.
func (s *podServers) sync(ctx context.Context) error {
	pods, err := s.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	services, err := s.client.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	want := map[string]*corev1.Pod{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.PodIP != "" && p.DeletionTimestamp == nil && ready(p) {
			want[p.Status.PodIP] = p
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for ip, ps := range s.serving {
		if p, ok := want[ip]; !ok || p.Name != ps.pod {
			ps.close()
			delete(s.serving, ip)
			if err := s.net.ns.ip("addr", "del", ip+"/32", "dev", podsLink); err != nil {
				return err
			}
		}
	}
	for ip, p := range want {
		ps := s.serving[ip]
		if ps == nil {
			if err := s.net.ns.ip("addr", "add", ip+"/32", "dev", podsLink); err != nil {
				return err
			}
			ps = &podServer{pod: p.Name, listeners: map[int32]net.Listener{}}
			s.serving[ip] = ps
		}
		// A Service may come after its pods: each pass adds the ports it finds.
		if err := s.listen(ps, p, services.Items); err != nil {
			return err
		}
	}
	return nil
}

// listen starts a server on each target port of the Services that select p and that
// has none yet.
func (s *podServers) listen(ps *podServer, p *corev1.Pod, services []corev1.Service) error {
	for _, svc := range services {
		if svc.Namespace != p.Namespace || len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(p.Labels)) {
			continue
		}
		for _, port := range svc.Spec.Ports {
			if port.Protocol != corev1.ProtocolTCP && port.Protocol != "" {
				continue // no UDP servers yet
			}
			target, ok := targetPort(p, port)
			if !ok || ps.listeners[target] != nil {
				continue
			}
			proto, err := ProtocolOf(appProtocol(port))
			if err != nil {
				return fmt.Errorf("Service %s/%s port %s: %w", svc.Namespace, svc.Name, port.Name, err)
			}
			ip := net.ParseIP(p.Status.PodIP)
			var cert *tls.Certificate
			if proto == TLS {
				if cert, err = s.ca.issue(serviceNames(svc.Name, svc.Namespace), ip); err != nil {
					return err
				}
			}
			l, err := s.net.ns.listen("tcp", net.JoinHostPort(p.Status.PodIP, strconv.Itoa(int(target))))
			if err != nil {
				return fmt.Errorf("pod %s/%s: %w", p.Namespace, p.Name, err)
			}
			ps.listeners[target] = l
			go serve(l, proto, answer(s.cluster, p.Name), cert)
		}
	}
	return nil
}

func (ps *podServer) close() {
	for _, l := range ps.listeners {
		l.Close()
	}
}

// count reports how many pod addresses have servers.
func (s *podServers) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.serving)
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// targetPort resolves a Service port's targetPort on a pod: a number, a container
// port's name, or the port itself when unset.
func targetPort(p *corev1.Pod, port corev1.ServicePort) (int32, bool) {
	switch {
	case port.TargetPort.IntValue() != 0:
		return int32(port.TargetPort.IntValue()), true
	case port.TargetPort.StrVal == "":
		return port.Port, true
	}
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == port.TargetPort.StrVal {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

func appProtocol(port corev1.ServicePort) string {
	if port.AppProtocol == nil {
		return ""
	}
	return *port.AppProtocol
}

// serviceNames are the names a client in the cluster reaches a Service by, shortest
// first.
func serviceNames(name, namespace string) []string {
	return []string{name, name + "." + namespace, name + "." + namespace + ".svc", name + "." + namespace + ".svc.cluster.local"}
}
