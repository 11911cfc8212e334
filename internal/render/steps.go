package render

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/gitmig/gitmig/internal/config"
)

// Change is what one step does to the repository: the edits, all in one cluster's overlay.
type Change struct {
	Migration Migration
	Step      Step
	Cluster   string
	Edits     []Edit
}

// StateError says that the tree is not in the state a step expects, and what was found.
type StateError struct {
	Step  Step
	Found string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("step %s: %s", e.Step, e.Found)
}

// Render computes the edits of one step of a migration on this tree. It refuses a tree
// that is not in the state the step expects, and checks that the edited overlay still
// builds.
func (r *Repo) Render(m Migration, step Step) (*Change, error) {
	if !step.Valid() {
		return nil, fmt.Errorf("step %d: there are four steps, 1 to 4", int(step))
	}
	s, err := r.newStepState(m, step)
	if err != nil {
		return nil, err
	}
	var e edits
	switch step {
	case StepDeploy:
		err = s.deploy(&e)
	case StepRoute:
		err = s.route(&e)
	case StepFlip:
		err = s.flip(&e)
	case StepCleanup:
		err = s.cleanup(&e)
	}
	if err != nil {
		return nil, err
	}
	change := &Change{Migration: m, Step: step, Cluster: s.cluster.Name, Edits: e.sorted()}
	after, err := r.With(change.Edits)
	if err != nil {
		return nil, err
	}
	if _, err := after.Build(s.cluster.Name); err != nil {
		return nil, fmt.Errorf("step %s leaves an overlay that does not build: %w", step, err)
	}
	return change, nil
}

// stepState is what a step reads from the tree before it writes anything.
type stepState struct {
	repo    *Repo
	m       Migration
	step    Step
	cluster config.Cluster
	// overlay is the edited cluster's overlay folder, kust its kustomization.
	overlay string
	kust    *Kustomization
	build   *Build
	// baseEntry is the service's base as a resources entry of the overlay.
	baseEntry string
	base      []Object
}

func (r *Repo) newStepState(m Migration, step Step) (*stepState, error) {
	s := &stepState{repo: r, m: m, step: step, cluster: step.Cluster(m)}
	s.overlay = s.cluster.Path
	var err error
	if s.kust, err = r.ReadKustomization(s.overlay); err != nil {
		return nil, err
	}
	if s.build, err = r.Build(s.cluster.Name); err != nil {
		return nil, err
	}
	rel, err := relPath(s.overlay, m.Service.Base)
	if err != nil {
		return nil, err
	}
	s.baseEntry = rel
	if s.base, _, err = r.BuildDir(m.Service.Base); err != nil {
		return nil, fmt.Errorf("service %s: %w", m.Service.Name, err)
	}
	return s, nil
}

func relPath(from, to string) (string, error) {
	fromParts := strings.Split(path.Clean(from), "/")
	toParts := strings.Split(path.Clean(to), "/")
	i := 0
	for i < len(fromParts) && i < len(toParts) && fromParts[i] == toParts[i] {
		i++
	}
	var parts []string
	for range fromParts[i:] {
		parts = append(parts, "..")
	}
	parts = append(parts, toParts[i:]...)
	if len(parts) == 0 {
		return "", fmt.Errorf("base %s is the overlay %s itself", to, from)
	}
	return strings.Join(parts, "/"), nil
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
func (s *stepState) hasDeployment(b *Build) bool {
	_, ok := b.Find("Deployment", s.svc().Namespace, s.svc().Name)
	return ok
}

// requireSourceRuns checks that the source still runs the service from its base.
func (s *stepState) requireSourceRuns() error {
	src, err := s.repo.Build(s.m.From.Name)
	if err != nil {
		return err
	}
	if !s.hasDeployment(src) {
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
	for _, dep := range s.repo.config.Dependencies(svc.Name) {
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
	existing, ok := s.build.Find("Service", svc.Namespace, svc.Name)
	if !ok {
		return nil
	}
	stubEntry, stubPath := s.file("externalname-" + svc.Name + ".yaml")
	if !s.kust.HasResource(stubEntry) {
		return s.refuse("%s already defines Service %s/%s outside gitmig/ (not from %s); remove it before moving %s here",
			s.cluster.Name, svc.Namespace, svc.Name, s.baseEntry, svc.Name)
	}
	stub, err := existing.Service()
	if err != nil {
		return err
	}
	s.kust.RemoveResource(stubEntry)
	e.delete(stubPath)
	return s.writeExternalNamePatch(e, stub.Spec.ExternalName)
}

// settleNamespace makes the overlay define namespace exactly once after the edits so far:
// adds gitmig/namespace-N.yaml when nothing defines it, and drops gitmig's own copy when
// the base now brings it.
func (s *stepState) settleNamespace(e *edits, namespace string) error {
	baseHasIt := false
	for _, o := range s.base {
		if o.Kind == "Namespace" && o.Name == namespace {
			baseHasIt = true
		}
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
		if err := e.writeObjects(full, map[string]any{
			"apiVersion": "v1",
			"kind":       "Namespace",
			"metadata":   s.meta(namespace, "", nil),
		}); err != nil {
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
	if _, ok := s.build.Find("Service", dep.Namespace, dep.Name); ok {
		return nil
	}
	model, err := s.repo.Model()
	if err != nil {
		return err
	}
	serving := ""
	for _, cluster := range model.Running(dep.Name) {
		if len(routesTo(model.Builds[cluster], dep.Name, dep.Namespace)) > 0 {
			serving = cluster
			break
		}
	}
	if serving == "" {
		return s.refuse("%s calls %s, which %s cannot reach: no cluster both runs %s and routes it with a traefik.io IngressRoute (running in: %s)",
			s.svc().Name, dep.Name, s.cluster.Name, dep.Name, orNone(model.Running(dep.Name)))
	}
	target, _ := s.repo.config.Cluster(serving)
	ports, err := s.repo.BasePorts(dep.Name)
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

func externalNameService(meta map[string]any, dnsName string, ports []Port) map[string]any {
	var list []any
	for _, p := range ports {
		port := map[string]any{"port": p.Port}
		if p.Name != "" {
			port["name"] = p.Name
		}
		if p.Protocol != "" {
			port["protocol"] = p.Protocol
		}
		list = append(list, port)
	}
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Service",
		"metadata":   meta,
		"spec": map[string]any{
			"type":         "ExternalName",
			"externalName": dnsName,
			"ports":        list,
		},
	}
}

// route adds one Traefik IngressRoute per service port on the destination, on the entry
// point listening on that port, matching every in-cluster name of the service and the
// destination's ingress name; with external-dns also a DNSEndpoint for that name.
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
	ports, err := s.repo.BasePorts(svc.Name)
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
	if s.repo.config.GitOps.DNS == config.DNSExternalDNS {
		dnsEntry, dnsFull := s.file("dnsendpoint-" + svc.Name + ".yaml")
		if err := e.writeObjects(dnsFull, s.dnsEndpoint()); err != nil {
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

// writtenByThisMigration reports whether the file at full carries this migration's id.
func (s *stepState) writtenByThisMigration(full string) bool {
	data, err := s.repo.ReadFile(full)
	if err != nil {
		return false
	}
	var doc struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	first, _, _ := strings.Cut(string(data), "\n---")
	if err := yaml.Unmarshal([]byte(first), &doc); err != nil {
		return false
	}
	return doc.Metadata.Annotations[AnnotationMigration] == s.m.ID
}

func (s *stepState) ingressRoutes(ports []Port) ([]any, error) {
	svc := s.svc()
	hosts := append(InClusterHosts(svc.Name, svc.Namespace), s.cluster.Ingress.DNSName)
	var matchers []string
	for _, h := range hosts {
		matchers = append(matchers, "Host(`"+h+"`)")
	}
	var routes []any
	for _, p := range ports {
		ep, ok := s.cluster.EntryPointForPort(p.Port)
		if !ok {
			return nil, s.refuse("%s's Traefik has no entry point on port %d for %s's port %s (entry points: %s)",
				s.cluster.Name, p.Port, svc.Name, portLabel(p), entryPointList(s.cluster))
		}
		routes = append(routes, map[string]any{
			"apiVersion": TraefikGroup + "/v1alpha1",
			"kind":       "IngressRoute",
			"metadata":   s.meta(svc.Name+"-"+portLabel(p), svc.Namespace, nil),
			"spec": map[string]any{
				"entryPoints": []any{ep},
				"routes": []any{map[string]any{
					"kind":  "Rule",
					"match": strings.Join(matchers, " || "),
					"services": []any{map[string]any{
						"kind":      "Service",
						"name":      svc.Name,
						"namespace": svc.Namespace,
						"port":      p.Port,
					}},
				}},
			},
		})
	}
	return routes, nil
}

func portLabel(p Port) string {
	if p.Name != "" {
		return p.Name
	}
	return fmt.Sprint(p.Port)
}

func entryPointList(cl config.Cluster) string {
	var parts []string
	for _, name := range sortedKeysOf(cl.Ingress.EntryPoints) {
		parts = append(parts, fmt.Sprintf("%s:%d", name, cl.Ingress.EntryPoints[name]))
	}
	return strings.Join(parts, ", ")
}

func (s *stepState) dnsEndpoint() map[string]any {
	return map[string]any{
		"apiVersion": "externaldns.k8s.io/v1alpha1",
		"kind":       "DNSEndpoint",
		"metadata":   s.meta(s.svc().Name, s.svc().Namespace, nil),
		"spec": map[string]any{
			"endpoints": []any{map[string]any{
				"dnsName":    s.cluster.Ingress.DNSName,
				"recordType": "A",
				"recordTTL":  60,
				"targets":    []any{s.cluster.Ingress.Address},
			}},
		},
	}
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
	dst, err := s.repo.Build(s.m.To.Name)
	if err != nil {
		return err
	}
	if len(routesTo(dst, svc.Name, svc.Namespace)) == 0 {
		return s.refuse("expects %s to route %s (step 2), but its build has no traefik.io IngressRoute to Service %s/%s",
			s.m.To.Name, svc.Name, svc.Namespace, svc.Name)
	}
	if err := s.writeExternalNamePatch(e, s.m.To.Ingress.DNSName); err != nil {
		return err
	}
	return s.writeKustomization(e)
}

// writeExternalNamePatch writes the strategic merge patch that turns the base's Service
// into an ExternalName: ports kept, selector and cluster IPs removed (the API server
// rejects an ExternalName Service that sets them).
func (s *stepState) writeExternalNamePatch(e *edits, dnsName string) error {
	svc := s.svc()
	entry, full := s.file(flipFile(svc.Name))
	patch := map[string]any{
		"apiVersion": "v1",
		"kind":       "Service",
		"metadata":   s.meta(svc.Name, svc.Namespace, nil),
		"spec": map[string]any{
			"type":                  "ExternalName",
			"externalName":          dnsName,
			"selector":              nil,
			"clusterIP":             nil,
			"clusterIPs":            nil,
			"externalTrafficPolicy": nil,
			"internalTrafficPolicy": nil,
			"sessionAffinity":       nil,
		},
	}
	if err := e.writeObjects(full, patch); err != nil {
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
	flipped, ok := s.build.Find("Service", svc.Namespace, svc.Name)
	if !ok {
		return s.refuse("%s's build has no Service %s/%s", s.cluster.Name, svc.Namespace, svc.Name)
	}
	service, err := flipped.Service()
	if err != nil {
		return err
	}
	if service.Spec.Type != corev1.ServiceTypeExternalName {
		return s.refuse("%s's Service %s/%s is %s, not ExternalName", s.cluster.Name, svc.Namespace, svc.Name, service.Spec.Type)
	}
	var ports []Port
	for _, p := range service.Spec.Ports {
		ports = append(ports, Port{Name: p.Name, Port: p.Port, Protocol: string(p.Protocol)})
	}
	stub := externalNameService(s.meta(svc.Name, svc.Namespace, service.Labels), service.Spec.ExternalName, ports)
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
			if err := e.writeObjects(nsPath, map[string]any{
				"apiVersion": "v1",
				"kind":       "Namespace",
				"metadata":   s.meta(svc.Namespace, "", nil),
			}); err != nil {
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
func (s *stepState) trialBuild(e *edits) (*Build, error) {
	kust, err := s.kust.Edit()
	if err != nil {
		return nil, err
	}
	trial := edits{list: append([]Edit(nil), e.list...)}
	trial.put(kust)
	repo, err := s.repo.With(trial.list)
	if err != nil {
		return nil, err
	}
	return repo.Build(s.cluster.Name)
}

func (s *stepState) writeKustomization(e *edits) error {
	edit, err := s.kust.Edit()
	if err != nil {
		return err
	}
	e.put(edit)
	return nil
}
