package render

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/traffic"
	"github.com/gitmig/gitmig/internal/tree"
)

// Change is what one step does to the repository: the edits, all in one cluster's
// overlay, and the fleet before and after them.
type Change struct {
	Migration Migration
	Step      step.Step
	Cluster   string
	Edits     []tree.Edit
	// Before is the model the step was rendered on; After is Before with the edits,
	// in which only the edited overlay was built again.
	Before, After *fleet.Model
}

// StateError says that the tree is not in the state a step expects, and what was found.
type StateError struct {
	Step  step.Step
	Found string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("step %s: %s", e.Step, e.Found)
}

// Render computes the edits of one step of a migration on the fleet of model. It
// refuses a tree that is not in the state the step expects, and checks that the edited
// overlay still builds.
func Render(model *fleet.Model, m Migration, s step.Step) (*Change, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("step %d: there are %d steps, 1 to %d", int(s), step.Count, step.Count)
	}
	st, err := newStepState(model, m, s)
	if err != nil {
		return nil, err
	}
	var e edits
	switch s {
	case step.Deploy:
		err = st.deploy(&e)
	case step.Route:
		err = st.route(&e)
	case step.Flip:
		err = st.flip(&e)
	case step.Cleanup:
		err = st.cleanup(&e)
	}
	if err != nil {
		return nil, err
	}
	change := &Change{Migration: m, Step: s, Cluster: st.cluster.Name, Edits: e.sorted(), Before: model}
	if change.After, err = model.With(change.Edits); err != nil {
		return nil, fmt.Errorf("step %s leaves an overlay that does not build: %w", s, err)
	}
	return change, nil
}

// stepState is what a step reads from the fleet before it writes anything.
type stepState struct {
	model   *fleet.Model
	m       Migration
	step    step.Step
	cluster config.Cluster
	// overlay is the edited cluster's overlay folder, kust its kustomization.
	overlay string
	kust    *Kustomization
	build   *fleet.Build
	// baseEntry is the service's base as a resources entry of the overlay.
	baseEntry string
}

func newStepState(model *fleet.Model, m Migration, s step.Step) (*stepState, error) {
	st := &stepState{model: model, m: m, step: s, cluster: m.Cluster(s)}
	st.overlay = st.cluster.Path
	var err error
	if st.kust, err = ReadKustomization(model.Tree, st.overlay); err != nil {
		return nil, err
	}
	if st.build = model.Build(st.cluster.Name); st.build == nil {
		return nil, fmt.Errorf("cluster %s is not in the fleet's model", st.cluster.Name)
	}
	if st.baseEntry, err = relPath(st.overlay, m.Service.Base); err != nil {
		return nil, err
	}
	return st, nil
}

// relPath is the resources entry in overlay from that names dir to.
func relPath(from, to string) (string, error) {
	rel, err := filepath.Rel(filepath.FromSlash(path.Clean(from)), filepath.FromSlash(path.Clean(to)))
	if err != nil {
		return "", err
	}
	if rel == "." {
		return "", fmt.Errorf("base %s is the overlay %s itself", to, from)
	}
	return filepath.ToSlash(rel), nil
}

func (s *stepState) refuse(format string, args ...any) error {
	return &StateError{Step: s.step, Found: fmt.Sprintf(format, args...)}
}

// file returns a path under the overlay's gitmig/ folder: the resources entry and the
// path from the repository root.
func (s *stepState) file(name string) (entry, full string) {
	entry = "gitmig/" + name
	return entry, path.Join(s.overlay, entry)
}

func (s *stepState) svc() config.Service { return s.m.Service }

func (s *stepState) meta(name, namespace string, labels map[string]string) map[string]any {
	return s.m.metadata(s.step, name, namespace, labels)
}

// hasDeployment reports whether a build runs the service.
func (s *stepState) hasDeployment(b *fleet.Build) bool {
	_, ok := b.Deployment(s.svc().Namespace, s.svc().Name)
	return ok
}

// requireSourceRuns checks that the source still runs the service from its base.
func (s *stepState) requireSourceRuns() error {
	if !s.hasDeployment(s.model.Build(s.m.From.Name)) {
		return s.refuse("expects %s to run in %s, but %s's build has no Deployment %s/%s",
			s.svc().Name, s.m.From.Name, s.m.From.Name, s.svc().Namespace, s.svc().Name)
	}
	return nil
}

// deploy adds the service's base to the destination, with its Namespace when the
// destination lacks it and ExternalName stubs for the dependencies it cannot reach.
func (s *stepState) deploy(e *edits) error {
	svc := s.svc()
	if err := s.requireSourceRuns(); err != nil {
		return err
	}
	if s.kust.HasResource(s.baseEntry) || s.hasDeployment(s.build) {
		return s.refuse("%s already runs %s (%s lists %s or its build has Deployment %s/%s): step 1 is done",
			s.cluster.Name, svc.Name, s.kust.Path, s.baseEntry, svc.Namespace, svc.Name)
	}
	if err := s.kust.AddResource(s.baseEntry); err != nil {
		return err
	}
	if err := s.replaceStubWithHold(e); err != nil {
		return err
	}
	if err := s.settleNamespace(e, svc.Namespace); err != nil {
		return err
	}
	for _, dep := range s.model.Config.Dependencies(svc.Name) {
		if err := s.stubDependency(e, dep); err != nil {
			return err
		}
	}
	return s.writeKustomization(e)
}

// replaceStubWithHold handles a move back: the destination already has the service as
// an ExternalName stub that gitmig wrote when it moved the service away. The stub goes,
// and a hold patch keeps the base's Service an ExternalName to the same place until
// step 2, so the destination's own clients never reach pods that are not ready yet.
func (s *stepState) replaceStubWithHold(e *edits) error {
	svc := s.svc()
	existing, ok := s.build.Service(svc.Namespace, svc.Name)
	if !ok {
		return nil
	}
	stubEntry, stubPath := s.file("externalname-" + svc.Name + ".yaml")
	if !s.kust.HasResource(stubEntry) {
		return s.refuse("%s already defines Service %s/%s outside gitmig/ (not from %s); remove it before moving %s here",
			s.cluster.Name, svc.Namespace, svc.Name, s.baseEntry, svc.Name)
	}
	s.kust.RemoveResource(stubEntry)
	e.delete(stubPath)
	return s.writeExternalNamePatch(e, existing.Service.ExternalName)
}

// baseCarriesNamespace reports whether the service's base defines namespace.
func (s *stepState) baseCarriesNamespace(namespace string) (bool, error) {
	base, err := s.model.BuildDir(s.svc().Base)
	if err != nil {
		return false, fmt.Errorf("service %s: %w", s.svc().Name, err)
	}
	return base.HasNamespace(namespace), nil
}

// settleNamespace makes the overlay define namespace exactly once after the edits so far:
// adds gitmig/namespace-N.yaml when nothing defines it, and drops gitmig's own copy when
// the base now brings it.
func (s *stepState) settleNamespace(e *edits, namespace string) error {
	baseHasIt, err := s.baseCarriesNamespace(namespace)
	if err != nil {
		return err
	}
	entry, full := s.file("namespace-" + namespace + ".yaml")
	ownCopy := s.kust.HasResource(entry)
	switch {
	case baseHasIt && ownCopy && s.kust.HasResource(s.baseEntry):
		s.kust.RemoveResource(entry)
		e.delete(full)
	case baseHasIt && s.kust.HasResource(s.baseEntry) && s.build.HasNamespace(namespace):
		return s.refuse("%s carries Namespace %s and %s already defines it elsewhere; a build would have it twice",
			s.svc().Base, namespace, s.cluster.Name)
	case !baseHasIt && !ownCopy && !s.build.HasNamespace(namespace):
		if err := e.writeObjects(full, namespaceManifest(s.meta(namespace, "", nil))); err != nil {
			return err
		}
		return s.kust.AddResource(entry)
	}
	return nil
}

// stubDependency makes a dependency the service calls resolvable from the destination:
// nothing to do when the destination has a Service of that name, else an ExternalName
// to the ingress of the cluster that runs and routes it.
func (s *stepState) stubDependency(e *edits, dep config.Service) error {
	if _, ok := s.build.Service(dep.Namespace, dep.Name); ok {
		return nil
	}
	serving := ""
	for _, cluster := range s.model.Running(dep) {
		if len(s.model.Build(cluster).RoutesTo(dep.Namespace, dep.Name)) > 0 {
			serving = cluster
			break
		}
	}
	if serving == "" {
		return s.refuse("%s calls %s, which %s cannot reach: no cluster both runs %s and routes it with a traefik.io route (running in: %s)",
			s.svc().Name, dep.Name, s.cluster.Name, dep.Name, orNone(s.model.Running(dep)))
	}
	target, _ := s.model.Config.Cluster(serving)
	ports, err := s.model.Ports(dep)
	if err != nil {
		return err
	}
	entry, full := s.file("externalname-" + dep.Name + ".yaml")
	if err := e.writeObjects(full, externalNameService(s.meta(dep.Name, dep.Namespace, nil), target.Ingress.DNSName, ports)); err != nil {
		return err
	}
	if err := s.kust.AddResource(entry); err != nil {
		return err
	}
	return s.settleNamespace(e, dep.Namespace)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// route adds one Traefik route per service port on the destination, of the kind that
// carries what the port speaks, on the entry point listening on that port (see
// ingressRoutes); with external-dns also a DNSEndpoint for the destination's ingress
// name.
func (s *stepState) route(e *edits) error {
	svc := s.svc()
	if !s.hasDeployment(s.build) {
		return s.refuse("expects %s to run in %s (step 1), but its build has no Deployment %s/%s",
			svc.Name, s.cluster.Name, svc.Namespace, svc.Name)
	}
	entry, full := s.file("ingressroute-" + svc.Name + ".yaml")
	// A route left from an earlier migration, when this cluster last served the
	// service, is rewritten; one written by this migration means step 2 is done.
	if s.kust.HasResource(entry) && s.writtenByThisMigration(full) {
		return s.refuse("%s already lists %s: step 2 is done", s.kust.Path, entry)
	}
	ports, err := s.model.Ports(svc)
	if err != nil {
		return err
	}
	routes, err := s.ingressRoutes(ports)
	if err != nil {
		return err
	}
	if err := e.writeObjects(full, routes...); err != nil {
		return err
	}
	if err := s.kust.AddResource(entry); err != nil {
		return err
	}
	if s.model.Config.GitOps.DNS == config.DNSExternalDNS {
		dnsEntry, dnsFull := s.file("dnsendpoint-" + svc.Name + ".yaml")
		meta := s.meta(svc.Name, svc.Namespace, nil)
		if err := e.writeObjects(dnsFull, dnsEndpoint(meta, s.cluster.Ingress.DNSName, s.cluster.Ingress.Address)); err != nil {
			return err
		}
		if err := s.kust.AddResource(dnsEntry); err != nil {
			return err
		}
	}
	// A move back held the Service as an ExternalName until the pods were ready (the
	// gate of step 1); now it serves from here.
	holdEntry, holdPath := s.file(flipFile(svc.Name))
	if s.kust.RemovePatch(holdEntry) {
		e.delete(holdPath)
	}
	return s.writeKustomization(e)
}

func flipFile(service string) string { return "flip-" + service + ".yaml" }

// writtenByThisMigration reports whether any object of the file at full carries this
// migration's id.
func (s *stepState) writtenByThisMigration(full string) bool {
	data, err := s.model.Tree.ReadFile(full)
	if err != nil {
		return false
	}
	for _, doc := range fleet.Documents(data) {
		if fleet.Lookup(doc, "metadata", "annotations", AnnotationMigration) == s.m.ID {
			return true
		}
	}
	return false
}

// ingressRoutes returns, per port of the service, the Traefik route that carries what
// the port speaks (package traffic lists the kinds) on the destination's entry point
// for it: HTTP and h2c by Host and TLS passed through by SNI, both on every name a
// client may use; TCP and UDP on an entry point of their own.
func (s *stepState) ingressRoutes(ports []fleet.Port) ([]any, error) {
	svc := s.svc()
	names := append(fleet.InClusterHosts(svc.Name, svc.Namespace), s.cluster.Ingress.DNSName)
	names = append(names, svc.Hosts...)
	var routes []any
	for _, p := range ports {
		kind, err := p.Kind(svc)
		if err != nil {
			return nil, s.refuse("%s's port %s: %v", svc.Name, p.Label(), err)
		}
		ep, err := s.cluster.EntryPointFor(p.Port, kind)
		if err != nil {
			return nil, s.refuse("%s's Traefik cannot carry %s's port %s (%s): %v (entry points: %s)",
				s.cluster.Name, svc.Name, p.Label(), kind, err, s.cluster.EntryPointList())
		}
		if err := s.requireEntryPointFree(ep, kind); err != nil {
			return nil, err
		}
		meta := s.meta(svc.Name+"-"+p.Label(), svc.Namespace, nil)
		to := backend{name: svc.Name, namespace: svc.Namespace, port: p.Port}
		switch kind {
		case traffic.HTTP:
			routes = append(routes, ingressRoute(meta, ep, matcherRule("Host", names), to, ""))
		case traffic.H2C:
			routes = append(routes, ingressRoute(meta, ep, matcherRule("Host", names), to, "h2c"))
		case traffic.TLS:
			routes = append(routes, ingressRouteTCP(meta, ep, matcherRule("HostSNI", names), to, true))
		case traffic.TCP:
			routes = append(routes, ingressRouteTCP(meta, ep, matcherRule("HostSNI", []string{"*"}), to, false))
		case traffic.UDP:
			routes = append(routes, ingressRouteUDP(meta, ep, to))
		}
	}
	return routes, nil
}

// requireEntryPointFree refuses a route of kind k on entry point ep where the route or
// one already there would take every connection of ep, and another Service is routed
// there: Traefik could not tell their clients apart.
func (s *stepState) requireEntryPointFree(ep string, k traffic.Kind) error {
	others := s.build.EntryPoints()[ep].Conflicts(s.svc().Namespace+"/"+s.svc().Name, k)
	if len(others) == 0 {
		return nil
	}
	if k.Exclusive() {
		return s.refuse("%s's %s route would take every connection of %s's entry point %s, which already routes %s",
			s.svc().Name, k, s.cluster.Name, ep, strings.Join(others, ", "))
	}
	return s.refuse("a HostSNI(`*`) or UDP route takes every connection of %s's entry point %s, for %s",
		s.cluster.Name, ep, strings.Join(others, ", "))
}

// flip patches the source's Service into an ExternalName to the destination's ingress.
func (s *stepState) flip(e *edits) error {
	svc := s.svc()
	if !s.kust.HasResource(s.baseEntry) {
		return s.refuse("expects %s to list %s, but it does not: %s no longer runs %s from its base",
			s.kust.Path, s.baseEntry, s.cluster.Name, svc.Name)
	}
	entry, _ := s.file(flipFile(svc.Name))
	if s.kust.HasPatch(entry) {
		return s.refuse("%s already patches the Service with %s: step 3 is done", s.kust.Path, entry)
	}
	if len(s.model.Build(s.m.To.Name).RoutesTo(svc.Namespace, svc.Name)) == 0 {
		return s.refuse("expects %s to route %s (step 2), but its build has no traefik.io route to Service %s/%s",
			s.m.To.Name, svc.Name, svc.Namespace, svc.Name)
	}
	if err := s.writeExternalNamePatch(e, s.m.To.Ingress.DNSName); err != nil {
		return err
	}
	return s.writeKustomization(e)
}

// writeExternalNamePatch writes the patch that turns the base's Service into an
// ExternalName to dnsName.
func (s *stepState) writeExternalNamePatch(e *edits, dnsName string) error {
	svc := s.svc()
	entry, full := s.file(flipFile(svc.Name))
	if err := e.writeObjects(full, externalNamePatch(s.meta(svc.Name, svc.Namespace, nil), dnsName)); err != nil {
		return err
	}
	return s.kust.AddPatch(entry)
}

// cleanup drops the service's base and the flip patch from the source, keeping its
// ExternalName Service, and the Namespace when the base carried it and nothing else does.
func (s *stepState) cleanup(e *edits) error {
	svc := s.svc()
	flipEntry, flipPath := s.file(flipFile(svc.Name))
	stubEntry, stubPath := s.file("externalname-" + svc.Name + ".yaml")
	if !s.kust.HasResource(s.baseEntry) {
		if s.kust.HasResource(stubEntry) {
			return s.refuse("%s no longer lists %s and keeps %s: step 4 is done", s.kust.Path, s.baseEntry, stubEntry)
		}
		return s.refuse("expects %s to list %s, but it does not", s.kust.Path, s.baseEntry)
	}
	if !s.kust.HasPatch(flipEntry) {
		return s.refuse("expects %s to patch Service %s with %s (step 3), but it does not", s.kust.Path, svc.Name, flipEntry)
	}
	flipped, ok := s.build.Service(svc.Namespace, svc.Name)
	if !ok {
		return s.refuse("%s's build has no Service %s/%s", s.cluster.Name, svc.Namespace, svc.Name)
	}
	if !flipped.Service.IsExternalName() {
		return s.refuse("%s's Service %s/%s is %s, not ExternalName", s.cluster.Name, svc.Namespace, svc.Name, flipped.Service.Type)
	}
	stub := externalNameService(s.meta(svc.Name, svc.Namespace, flipped.Labels), flipped.Service.ExternalName, flipped.Service.Ports)
	if err := e.writeObjects(stubPath, stub); err != nil {
		return err
	}
	s.kust.RemoveResource(s.baseEntry)
	s.kust.RemovePatch(flipEntry)
	e.delete(flipPath)
	if err := s.kust.AddResource(stubEntry); err != nil {
		return err
	}
	// Without the base, a Namespace it carried leaves the build, and pruning would then
	// delete the ExternalName Service with it.
	if s.build.HasNamespace(svc.Namespace) {
		trial, err := s.trialBuild(e)
		if err != nil {
			return err
		}
		if !trial.HasNamespace(svc.Namespace) {
			nsEntry, nsPath := s.file("namespace-" + svc.Namespace + ".yaml")
			if err := e.writeObjects(nsPath, namespaceManifest(s.meta(svc.Namespace, "", nil))); err != nil {
				return err
			}
			if err := s.kust.AddResource(nsEntry); err != nil {
				return err
			}
		}
	}
	return s.writeKustomization(e)
}

// trialBuild builds the edited overlay with the edits so far and the kustomization as
// it stands.
func (s *stepState) trialBuild(e *edits) (*fleet.Build, error) {
	kust, err := s.kust.Edit()
	if err != nil {
		return nil, err
	}
	trial := edits{list: append([]tree.Edit(nil), e.list...)}
	trial.put(kust)
	after, err := s.model.With(trial.list)
	if err != nil {
		return nil, err
	}
	return after.Build(s.cluster.Name), nil
}

func (s *stepState) writeKustomization(e *edits) error {
	edit, err := s.kust.Edit()
	if err != nil {
		return err
	}
	e.put(edit)
	return nil
}
