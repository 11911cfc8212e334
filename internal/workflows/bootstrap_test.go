package workflows

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/gitmig/gitmig"
	verifycmd "github.com/gitmig/gitmig/internal/cmd/verify"
	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/render"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/tree"
	"github.com/gitmig/gitmig/internal/verify"
)

// rootRepo is the repository on disk, read with gitmig.yaml (engine changed when set).
func rootRepo(t *testing.T, engine string) (tree.Tree, *config.Config) {
	t.Helper()
	cfg := exampleConfig(t)
	if engine != "" {
		cfg.GitOps.Engine = engine
	}
	disk, err := tree.Disk(root)
	if err != nil {
		t.Fatal(err)
	}
	return disk, cfg
}

// build runs kustomize on a bootstrap folder, as `kubectl apply -k` would, and returns
// its objects by kind and name.
func build(t *testing.T, repo tree.Tree, dir string) map[string]map[string]any {
	t.Helper()
	b, err := fleet.NewBuilder(nil, 1).Build(repo, dir)
	if err != nil {
		t.Fatalf("kubectl apply -k %s/ would fail: %v", dir, err)
	}
	return objectsByName(t, b.Objects)
}

// objectsByName decodes objects by kind and name.
func objectsByName(t *testing.T, objects []*fleet.Object) map[string]map[string]any {
	t.Helper()
	byName := map[string]map[string]any{}
	for _, o := range objects {
		raw, err := o.Raw()
		if err != nil {
			t.Fatal(err)
		}
		byName[o.Kind+"/"+o.Name] = raw
	}
	return byName
}

func get(t *testing.T, objects map[string]map[string]any, kindName string) map[string]any {
	t.Helper()
	o, ok := objects[kindName]
	if !ok {
		t.Fatalf("no %s among %v", kindName, slices.Sorted(maps.Keys(objects)))
	}
	return o
}

// webURL turns gitops.remote into the repository's web address.
func webURL(remote string) string { return strings.TrimSuffix(remote, ".git") }

func TestArgoCDBootstrapMatchesGitmigYAML(t *testing.T) {
	repo, cfg := rootRepo(t, "")
	objects := build(t, repo, "argocd")

	project := get(t, objects, "AppProject/fleet")
	if repos, _ := lookup(project, "spec", "sourceRepos").([]any); !slices.Contains(repos, any(cfg.GitOps.Remote)) {
		t.Errorf("AppProject sourceRepos %v lacks gitops.remote %s", repos, cfg.GitOps.Remote)
	}
	var destinations []string
	dests, _ := lookup(project, "spec", "destinations").([]any)
	for _, d := range dests {
		destinations = append(destinations, str(lookup(d, "name")))
	}

	set := get(t, objects, "ApplicationSet/fleet")
	spec, _ := set["spec"].(map[string]any)
	tmpl := lookup(spec, "template")
	if goTemplate, _ := spec["goTemplate"].(bool); !goTemplate {
		t.Fatal("the ApplicationSet is expected to use Go templates")
	}
	elements, _ := lookup(spec, "generators").([]any)
	if len(elements) != 1 {
		t.Fatalf("want one list generator, got %v", elements)
	}
	list, _ := lookup(elements[0], "list", "elements").([]any)
	expand := func(text string, element any) string {
		t.Helper()
		tpl, err := template.New("").Option("missingkey=error").Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := tpl.Execute(&b, element); err != nil {
			t.Fatalf("template %q: %v", text, err)
		}
		return b.String()
	}
	apps := map[string]string{} // Application name -> cluster
	for _, e := range list {
		cluster := expand(str(lookup(tmpl, "spec", "destination", "name")), e)
		name := expand(str(lookup(tmpl, "metadata", "name")), e)
		apps[name] = cluster
		cl, ok := cfg.Cluster(cluster)
		if !ok {
			t.Errorf("the ApplicationSet makes an Application for %q, which gitmig.yaml does not define", cluster)
			continue
		}
		if want := cfg.GitOps.ArgoCD.Applications[cluster]; name != want {
			t.Errorf("cluster %s: the Application is named %q, gitops.argocd.applications says %q", cluster, name, want)
		}
		if p := expand(str(lookup(tmpl, "spec", "source", "path")), e); p != cl.Path {
			t.Errorf("cluster %s: the Application applies %q, the overlay is %q", cluster, p, cl.Path)
		}
		if !slices.Contains(destinations, cluster) {
			t.Errorf("cluster %s is not a destination of the AppProject (%v)", cluster, destinations)
		}
	}
	if len(apps) != len(cfg.Clusters) {
		t.Errorf("the ApplicationSet makes %d Applications for %d clusters: %v", len(apps), len(cfg.Clusters), apps)
	}
	source := lookup(tmpl, "spec", "source")
	if str(lookup(source, "repoURL")) != cfg.GitOps.Remote || str(lookup(source, "targetRevision")) != cfg.GitOps.Branch {
		t.Errorf("the Applications follow %v, gitmig.yaml edits %s on %s", source, cfg.GitOps.Remote, cfg.GitOps.Branch)
	}
	automated := lookup(tmpl, "spec", "syncPolicy", "automated")
	if prune, _ := lookup(automated, "prune").(bool); !prune {
		t.Error("the Applications do not prune: step 4 would delete nothing")
	}
	if heal, _ := lookup(automated, "selfHeal").(bool); !heal {
		t.Error("the Applications do not self-heal")
	}
	info, _ := lookup(tmpl, "spec", "info").([]any)
	wantInfo := map[string]any{"name": "gitmig migrations", "value": webURL(cfg.GitOps.Remote) + "/tree/" + cfg.GitOps.Branch + "/migrations"}
	if !slices.ContainsFunc(info, func(i any) bool { return maps.Equal(i.(map[string]any), wantInfo) }) {
		t.Errorf("the Applications' info %v lacks %v", info, wantInfo)
	}
	if kept, _ := lookup(spec, "preservedFields", "annotations").([]any); !slices.Contains(kept, any("argocd.argoproj.io/refresh")) {
		t.Error("the ApplicationSet may strip the refresh annotation gitmig's gate sets")
	}

	cm := get(t, objects, "ConfigMap/argocd-cm")
	if lookup(cm, "metadata", "namespace") != cfg.GitOps.ArgoCD.Namespace {
		t.Errorf("argocd-cm is in namespace %v, Argo CD in %s", lookup(cm, "metadata", "namespace"), cfg.GitOps.ArgoCD.Namespace)
	}
	for _, kind := range []string{"IngressRoute", "IngressRouteTCP", "IngressRouteUDP"} {
		if str(lookup(cm, "data", healthKey(kind))) == "" {
			t.Errorf("argocd-cm has no %s", healthKey(kind))
		}
	}
	for _, o := range []map[string]any{project, set} {
		if ns := lookup(o, "metadata", "namespace"); ns != cfg.GitOps.ArgoCD.Namespace {
			t.Errorf("%s is in namespace %v, gitops.argocd.namespace is %s", lookup(o, "kind"), ns, cfg.GitOps.ArgoCD.Namespace)
		}
	}
}

// fluxKustomizations is the gitops.flux.kustomizations map docs/adopting.md gives for
// the example fleet: each cluster's Kustomization is named after it.
func fluxKustomizations(cfg *config.Config) map[string]string {
	m := map[string]string{}
	for _, cl := range cfg.Clusters {
		m[cl.Name] = cl.Name
	}
	return m
}

func TestFluxBootstrapMatchesGitmigYAML(t *testing.T) {
	repo, cfg := rootRepo(t, config.EngineFlux)
	checkFluxBootstrap(t, repo, cfg, fluxKustomizations(cfg))
}

// The example fleet repository bootstraps Flux with the Kustomizations its
// gitmig.yaml names, and verify finds that every one prunes.
func TestFleetRepoFluxBootstrapMatchesItsGitmigYAML(t *testing.T) {
	repo, cfg := fleetRepoTree(t)
	if cfg.GitOps.Engine != config.EngineFlux || cfg.GitOps.Flux == nil {
		t.Fatalf("examples/fleet-repo/gitmig.yaml: engine %q, want flux with gitops.flux", cfg.GitOps.Engine)
	}
	checkFluxBootstrap(t, repo, cfg, cfg.GitOps.Flux.Kustomizations)
	warnings, err := verify.PruneWarnings(repo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		t.Error(w)
	}
}

// fleetRepoTree is examples/fleet-repo on disk, read with its gitmig.yaml.
func fleetRepoTree(t *testing.T) (tree.Tree, *config.Config) {
	t.Helper()
	dir := filepath.Join(root, "examples", "fleet-repo")
	cfg, err := config.Load(filepath.Join(dir, "gitmig.yaml"), dir)
	if err != nil {
		t.Fatal(err)
	}
	disk, err := tree.Disk(dir)
	if err != nil {
		t.Fatal(err)
	}
	return disk, cfg
}

// checkFluxBootstrap builds flux/ and checks it against gitmig.yaml: the GitRepository
// follows gitops.remote and branch, and each cluster's Kustomization, named as names
// says, applies its overlay from it, prunes, waits and reaches the cluster.
func checkFluxBootstrap(t *testing.T, repo tree.Tree, cfg *config.Config, names map[string]string) {
	t.Helper()
	objects := build(t, repo, "flux")
	source := get(t, objects, "GitRepository/fleet")
	if url := str(lookup(source, "spec", "url")); url != cfg.GitOps.Remote {
		t.Errorf("GitRepository url %q, gitops.remote %q", url, cfg.GitOps.Remote)
	}
	if branch := str(lookup(source, "spec", "ref", "branch")); branch != cfg.GitOps.Branch {
		t.Errorf("GitRepository branch %q, gitops.branch %q", branch, cfg.GitOps.Branch)
	}
	for _, cl := range cfg.Clusters {
		ks := get(t, objects, "Kustomization/"+names[cl.Name])
		spec := ks["spec"]
		if ns := lookup(ks, "metadata", "namespace"); ns != "flux-system" {
			t.Errorf("%s: namespace %v, want flux-system", cl.Name, ns)
		}
		if p := strings.TrimPrefix(str(lookup(spec, "path")), "./"); p != cl.Path {
			t.Errorf("%s: path %q, overlay %q", cl.Name, p, cl.Path)
		}
		for _, field := range []string{"prune", "wait"} {
			if v, _ := lookup(spec, field).(bool); !v {
				t.Errorf("%s: spec.%s is not true", cl.Name, field)
			}
		}
		if str(lookup(spec, "kubeConfig", "secretRef", "name")) == "" {
			t.Errorf("%s: no kubeConfig.secretRef for the remote cluster", cl.Name)
		}
		if ref := lookup(spec, "sourceRef"); str(lookup(ref, "kind")) != "GitRepository" || str(lookup(ref, "name")) != "fleet" {
			t.Errorf("%s: sourceRef %v is not the fleet GitRepository", cl.Name, ref)
		}
	}
}

// The bootstrap folders are what verify's prune check finds in this repository: with
// either engine, every cluster's applier prunes.
func TestBootstrapPrunesEveryCluster(t *testing.T) {
	for _, engine := range []string{config.EngineArgoCD, config.EngineFlux} {
		repo, cfg := rootRepo(t, engine)
		found, err := verify.Appliers(repo, cfg, engine)
		if err != nil {
			t.Fatal(err)
		}
		for _, cl := range cfg.Clusters {
			if len(found[cl.Name]) != 1 || !found[cl.Name][0].Prunes {
				t.Errorf("%s: cluster %s is applied by %v, want one applier that prunes", engine, cl.Name, found[cl.Name])
			}
		}
		warnings, err := verify.PruneWarnings(repo, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range warnings {
			t.Errorf("%s: %s", engine, w)
		}
	}
}

// exampleTree copies the embedded example fleet (gitmig.yaml, bases, overlays) to a
// temporary folder, with extra files from the repository root.
func exampleTree(t *testing.T, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, gitmig.Example); err != nil {
		t.Fatal(err)
	}
	for _, e := range extra {
		if err := os.CopyFS(filepath.Join(dir, e), os.DirFS(filepath.Join(root, e))); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runVerify(t *testing.T, dir string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = verifycmd.Run(context.Background(), &verifycmd.Options{Globals: &cmdutil.Globals{Repo: dir}, Streams: cmdutil.Streams{Out: &out, Err: &errOut}, Output: "text"})
	return out.String(), errOut.String(), err
}

func TestVerifyWarnsWithoutChangingTheExitCode(t *testing.T) {
	// Without argocd/, gitmig cannot see whether Argo CD prunes: a note, and success.
	stdout, stderr, err := runVerify(t, exampleTree(t))
	if err != nil || !strings.HasPrefix(stdout, "ok: ") {
		t.Fatalf("verify failed on a correct tree: %v\n%s", err, stdout)
	}
	if !strings.Contains(stderr, "note: no Argo CD Application or ApplicationSet in this repository applies a cluster overlay") {
		t.Errorf("no note on stderr:\n%s", stderr)
	}

	// With argocd/ as shipped: nothing to say.
	dir := exampleTree(t, "argocd")
	if _, stderr, err := runVerify(t, dir); err != nil || stderr != "" {
		t.Errorf("verify with argocd/: err %v, stderr:\n%s", err, stderr)
	}

	// With an ApplicationSet that does not prune: one warning per cluster, still success.
	appset := filepath.Join(dir, "argocd", "applicationset.yaml")
	data, err := os.ReadFile(appset)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("prune: true")) {
		t.Fatal("argocd/applicationset.yaml has no 'prune: true' to turn off")
	}
	if err := os.WriteFile(appset, bytes.Replace(data, []byte("prune: true"), []byte("prune: false"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err = runVerify(t, dir)
	if err != nil || !strings.HasPrefix(stdout, "ok: ") {
		t.Fatalf("warnings alone changed the outcome: %v\n%s", err, stdout)
	}
	for _, cl := range []string{"edge", "fog", "cloud"} {
		want := "warning: cluster " + cl + ": ApplicationSet fleet (argocd/applicationset.yaml) applies clusters/" + cl + " without pruning"
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// healthKey is argocd-cm's key of the health check for a kind of traefik.io object.
func healthKey(kind string) string { return "resource.customizations.health.traefik.io_" + kind }

// lua finds a Lua 5.1 interpreter, the dialect of the gopher-lua that Argo CD runs
// health checks with. Missing, it skips the test, or fails it in CI.
func lua(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"lua5.1", "luajit"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	msg := "lua5.1 is not installed (apt-get install lua5.1): cannot run Argo CD's health checks of Traefik's routes"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// luaValue writes a decoded YAML value as a Lua literal, as Argo CD hands the object to
// a health check.
func luaValue(b *strings.Builder, v any) {
	switch v := v.(type) {
	case map[string]any:
		b.WriteString("{")
		for _, k := range slices.Sorted(maps.Keys(v)) {
			fmt.Fprintf(b, "[%s]=", strconv.Quote(k))
			luaValue(b, v[k])
			b.WriteString(",")
		}
		b.WriteString("}")
	case []any:
		b.WriteString("{")
		for _, e := range v {
			luaValue(b, e)
			b.WriteString(",")
		}
		b.WriteString("}")
	case string:
		b.WriteString(strconv.Quote(v))
	case bool:
		fmt.Fprint(b, v)
	case int64, float64, int:
		fmt.Fprint(b, v)
	case nil:
		b.WriteString("nil")
	default:
		panic(fmt.Sprintf("no Lua form for %T", v))
	}
}

// health runs the check on obj and returns its status and message.
func health(t *testing.T, interpreter, check string, obj map[string]any) (status, message string) {
	t.Helper()
	var prog strings.Builder
	prog.WriteString("obj = ")
	luaValue(&prog, obj)
	prog.WriteString("\nlocal function check()\n" + check + "\nend\nlocal hs = check()\nio.write(hs.status, \"\\n\", hs.message or \"\")\n")
	cmd := exec.Command(interpreter, "-")
	cmd.Stdin = strings.NewReader(prog.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the health check fails to run: %v\n%s", err, out)
	}
	status, message, _ = strings.Cut(string(out), "\n")
	return status, message
}

// TestTraefikRouteHealthChecks runs argocd-cm's health checks of the three kinds of
// Traefik route on the routes gitmig's step 2 writes for the example fleet (an HTTP
// and an h2c IngressRoute, a passthrough IngressRouteTCP) and for the render tests'
// metro fleet (also an IngressRouteTCP HostSNI(`*`) and an IngressRouteUDP): each is
// Healthy; routes that cannot carry traffic are Degraded.
func TestTraefikRouteHealthChecks(t *testing.T) {
	interpreter := lua(t)
	repo, _ := rootRepo(t, "")
	cm := get(t, build(t, repo, "argocd"), "ConfigMap/argocd-cm")

	written := stepTwoRoutes(t, tree.FromFS(gitmig.Example), "orc8r", "edge", "cloud")
	metro, err := tree.Disk(filepath.Join("..", "render", "testdata", "fleets", "metro"))
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(written, stepTwoRoutes(t, metro, "sessiond", "metro-east", "metro-west"))
	for _, kind := range []string{"IngressRoute", "IngressRouteTCP", "IngressRouteUDP"} {
		check := str(lookup(cm, "data", healthKey(kind)))
		if check == "" {
			t.Errorf("argocd-cm has no %s", healthKey(kind))
			continue
		}
		var routes []map[string]any
		for name, r := range written {
			if r["kind"] == kind {
				routes = append(routes, written[name])
			}
		}
		if len(routes) == 0 {
			t.Errorf("step 2 wrote no %s", kind)
		}
		for _, r := range routes {
			if status, msg := health(t, interpreter, check, r); status != "Healthy" || !strings.Contains(msg, "entry point") {
				t.Errorf("gitmig's %s %v: %s %q, want Healthy", kind, lookup(r, "metadata", "name"), status, msg)
			}
		}
		degraded := map[string]map[string]any{
			"no routes": {"spec": map[string]any{"routes": []any{}}},
			"no spec":   {},
		}
		if kind != "IngressRouteUDP" {
			degraded["no match"] = map[string]any{"spec": map[string]any{"routes": []any{map[string]any{"services": []any{map[string]any{"name": "a", "port": int64(80)}}}}}}
		}
		if kind == "IngressRoute" {
			degraded["nowhere to send"] = map[string]any{"spec": map[string]any{"routes": []any{map[string]any{"match": "Host(`a`)"}}}}
		} else {
			degraded["no services"] = map[string]any{"spec": map[string]any{"routes": []any{map[string]any{"match": "HostSNI(`*`)", "services": []any{}}}}}
		}
		for name, obj := range degraded {
			if status, msg := health(t, interpreter, check, obj); status != "Degraded" || msg == "" {
				t.Errorf("%s with %s: %s %q, want Degraded with a message", kind, name, status, msg)
			}
		}
	}
	if status, msg := health(t, interpreter, str(lookup(cm, "data", healthKey("IngressRouteTCP"))), written["orc8r-controller"]); !strings.Contains(msg, "TLS passed through") {
		t.Errorf("orc8r's passthrough IngressRouteTCP: %s %q, want the message to say the TLS is passed through", status, msg)
	}
}

// stepTwoRoutes renders steps 1 and 2 of moving service from one cluster to another
// in the fleet of t, and returns the Traefik routes of the destination's build, by
// name.
func stepTwoRoutes(t *testing.T, repo tree.Tree, service, from, to string) map[string]map[string]any {
	t.Helper()
	data, err := repo.ReadFile("gitmig.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	model, err := fleet.NewBuilder(nil, 0).Load(context.Background(), repo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := render.NewMigration(cfg, render.MigrationID(service, from, to, time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)), service, from, to)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []step.Step{step.Deploy, step.Route} {
		change, err := render.Render(model, m, s)
		if err != nil {
			t.Fatal(err)
		}
		model = change.After
	}
	routes := map[string]map[string]any{}
	for _, o := range model.Build(to).Objects {
		if o.IngressRoute != nil {
			raw, err := o.Raw()
			if err != nil {
				t.Fatal(err)
			}
			routes[o.Name] = raw
		}
	}
	return routes
}

// The adoption guide's relative links lead to files of this repository.
func TestAdoptingGuideLinks(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "docs", "adopting.md"))
	if err != nil {
		t.Fatal(err)
	}
	links := regexp.MustCompile(`\]\((\.\./[^)#]+)\)`).FindAllStringSubmatch(string(data), -1)
	if len(links) == 0 {
		t.Fatal("no relative links found: the pattern is wrong")
	}
	for _, l := range links {
		if _, err := os.Stat(filepath.Join(root, "docs", l[1])); err != nil {
			t.Errorf("docs/adopting.md links to %s: %v", l[1], err)
		}
	}
}
