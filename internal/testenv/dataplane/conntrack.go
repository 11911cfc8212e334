package dataplane

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ForgetUntranslated deletes, in cluster's namespace, the conntrack entries of TCP
// connections to a ClusterIP that kube-proxy did not translate, and returns how many
// it deleted.
//
// A client that dials a new ClusterIP in the second before kube-proxy programs it
// leaves such an entry: the kernel translates a connection on its first packet only,
// so the entry keeps the untranslated address until it expires (the kernel's
// nf_conntrack_tcp_timeout_syn_sent, 120 s, from the last retransmission). A later
// connection that happens to take the same source port matches it, is not
// translated either, and times out. kube-proxy clears stale entries for UDP only.
// The negative control's revert gives the source Service a new ClusterIP while the
// probes run, and leaves a few such ports behind; docs/dataplane.md tells the story.
func (p *Plane) ForgetUntranslated(cluster string) (int, error) {
	cn, ok := p.net.clusters[cluster]
	if !ok {
		return 0, fmt.Errorf("no cluster %q in the data plane", cluster)
	}
	_, services, err := net.ParseCIDR(cn.serviceCIDR)
	if err != nil {
		return 0, fmt.Errorf("cluster %s: service range %q: %w", cluster, cn.serviceCIDR, err)
	}
	var deleted uint
	err = cn.ns.do(func() error {
		// The netlink socket is made on this thread, in the namespace.
		h, err := netlink.NewHandle(unix.NETLINK_NETFILTER)
		if err != nil {
			return err
		}
		defer h.Close()
		deleted, err = h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, untranslated{services})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cluster %s: deleting untranslated conntrack entries: %w", cluster, err)
	}
	return int(deleted), nil
}

// untranslated matches TCP entries to an address of the service range whose reply
// comes from that same address: no DNAT rule sent them to a pod.
type untranslated struct{ services *net.IPNet }

func (u untranslated) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	return flow.Forward.Protocol == unix.IPPROTO_TCP &&
		u.services.Contains(flow.Forward.DstIP) &&
		flow.Reverse.SrcIP.Equal(flow.Forward.DstIP)
}
