package workflows

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/gitmig/gitmig/internal/example"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/testenv/gittest"
)

// action is action.yml.
type action struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Author      string            `json:"author"`
	Branding    map[string]string `json:"branding"`
	Inputs      map[string]struct {
		Description string `json:"description"`
		Required    bool   `json:"required"`
		Default     string `json:"default"`
	} `json:"inputs"`
	Outputs map[string]struct {
		Description string `json:"description"`
		Value       string `json:"value"`
	} `json:"outputs"`
	Runs struct {
		Using string           `json:"using"`
		Steps []map[string]any `json:"steps"`
	} `json:"runs"`
}

func loadAction(t *testing.T) *action {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a action
	if err := yaml.UnmarshalStrict(data, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return &a
}

// step returns the step with id.
func (a *action) step(t *testing.T, id string) map[string]any {
	t.Helper()
	for _, s := range a.Runs.Steps {
		if s["id"] == id {
			return s
		}
	}
	t.Fatalf("action.yml has no step %q", id)
	return nil
}

// actionScript is the script a run step calls: "$GITHUB_ACTION_PATH/action/x.sh".
var actionScript = regexp.MustCompile(`^"\$GITHUB_ACTION_PATH/(action/[\w-]+\.sh)"$`)

// actionProblems checks what actionlint does not check in an action: the composite
// form, that each step either runs one of the action's scripts in bash or uses a
// pinned action, that every expression refers to an input that exists or to an
// earlier step's output, and that nothing but env: and with: carries an expression
// into a script.
func actionProblems(a *action) []string {
	var problems []string
	if a.Name == "" || a.Description == "" || a.Runs.Using != "composite" {
		problems = append(problems, fmt.Sprintf("name %q, description %q, runs.using %q: want a named, described composite action", a.Name, a.Description, a.Runs.Using))
	}
	for name, in := range a.Inputs {
		if in.Description == "" {
			problems = append(problems, fmt.Sprintf("input %s has no description", name))
		}
	}
	major := regexp.MustCompile(`^[\w.-]+/[\w.-]+@v\d+$`)
	ref := regexp.MustCompile(`\b(inputs|steps)\.([\w-]+)(\.outputs\.([\w-]+))?`)
	seen := map[string]bool{}
	used := map[string]bool{}
	check := func(where, text string) {
		for _, expr := range expression.FindAllString(text, -1) {
			for _, m := range ref.FindAllStringSubmatch(expr, -1) {
				switch {
				case m[1] == "inputs":
					used[m[2]] = true
					if _, ok := a.Inputs[m[2]]; !ok {
						problems = append(problems, fmt.Sprintf("%s: %s names no input", where, m[0]))
					}
				case m[3] == "":
					problems = append(problems, fmt.Sprintf("%s: %s is not a step output", where, m[0]))
				case !seen[m[2]]:
					problems = append(problems, fmt.Sprintf("%s: %s is not the output of an earlier step", where, m[0]))
				}
			}
		}
	}
	for i, s := range a.Runs.Steps {
		where := fmt.Sprintf("step %d", i)
		if id := str(s["id"]); id != "" {
			where += " (" + id + ")"
		}
		run, uses := str(s["run"]), str(s["uses"])
		switch {
		case (run == "") == (uses == ""):
			problems = append(problems, where+": want exactly one of run and uses")
		case run != "" && str(s["shell"]) != "bash":
			problems = append(problems, where+": a composite run step needs shell: bash")
		case run != "" && !actionScript.MatchString(run):
			problems = append(problems, fmt.Sprintf("%s: run %q: call one of action/*.sh, so that tests and shellcheck see the script", where, run))
		case uses != "" && !major.MatchString(uses):
			problems = append(problems, fmt.Sprintf("%s: %q is not pinned to a major version tag", where, uses))
		}
		// An if: is an expression even without ${{ }}.
		if cond := str(s["if"]); cond != "" && !strings.Contains(cond, "${{") {
			check(where+" if", "${{ "+cond+" }}")
		} else {
			check(where+" if", cond)
		}
		for _, field := range []string{"env", "with"} {
			m, _ := s[field].(map[string]any)
			for _, k := range slices.Sorted(maps.Keys(m)) {
				check(fmt.Sprintf("%s %s.%s", where, field, k), str(m[k]))
			}
		}
		if id := str(s["id"]); id != "" {
			seen[id] = true
		}
	}
	for name, out := range a.Outputs {
		check("output "+name, out.Value)
	}
	for name := range a.Inputs {
		if !used[name] {
			problems = append(problems, fmt.Sprintf("input %s is never used", name))
		}
	}
	steps := map[string]any{}
	for i, s := range a.Runs.Steps {
		steps[fmt.Sprint(i)] = s
	}
	for _, p := range injectionProblems(workflow{"steps": steps}) {
		problems = append(problems, p)
	}
	return problems
}

func TestActionIsWellFormed(t *testing.T) {
	a := loadAction(t)
	for _, p := range actionProblems(a) {
		t.Error("action.yml:", p)
	}
	for _, want := range []string{"command", "config", "prometheus-url", "token", "kubeconfig", "version", "working-directory"} {
		if _, ok := a.Inputs[want]; !ok {
			t.Errorf("action.yml has no input %s", want)
		}
	}
	if d := a.Inputs["command"].Default; d != "reconcile --once" {
		t.Errorf("the command input defaults to %q, want the scheduled pass", d)
	}

	// The fleet model cache: restored from the newest earlier run, saved new each run.
	var cache map[string]any
	for _, s := range a.Runs.Steps {
		if strings.Contains(str(lookup(s, "with", "path")), "cache-dir") {
			cache = s
		}
	}
	if cache == nil {
		t.Fatal("no actions/cache step for the cache-dir")
	}
	key, restore := str(lookup(cache, "with", "key")), str(lookup(cache, "with", "restore-keys"))
	if !strings.Contains(key, "runner.os") || !strings.Contains(key, "github.run_id") || !strings.HasPrefix(key, restore) || restore == "" {
		t.Errorf("fleet cache key %q with restore-keys %q: want a key per run whose prefix (with runner.os) restores the newest", key, restore)
	}

	// The checks reject what they are for.
	bad := func(edit func(a *action)) *action {
		b := loadAction(t)
		edit(b)
		return b
	}
	for name, b := range map[string]*action{
		"an unknown input":    bad(func(a *action) { a.Runs.Steps[0]["env"] = map[string]any{"X": "${{ inputs.nope }}"} }),
		"a later output":      bad(func(a *action) { a.Runs.Steps[0]["env"] = map[string]any{"X": "${{ steps.run.outputs.x }}"} }),
		"an inline script":    bad(func(a *action) { a.Runs.Steps[0]["run"] = "echo ${{ inputs.command }}" }),
		"a script without sh": bad(func(a *action) { delete(a.Runs.Steps[0], "shell") }),
		"an unpinned action":  bad(func(a *action) { a.Runs.Steps[1]["uses"] = "actions/setup-go@main" }),
		"an unknown if input": bad(func(a *action) { a.Runs.Steps[1]["if"] = "inputs.nope == 'true'" }),
	} {
		if len(actionProblems(b)) == 0 {
			t.Errorf("actionProblems accepts %s", name)
		}
	}
}

// TestActionScriptsPassShellcheck runs shellcheck on the scripts the action and the
// release run.
func TestActionScriptsPassShellcheck(t *testing.T) {
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		msg := "shellcheck is not installed (apt-get install shellcheck)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	scripts, err := filepath.Glob(filepath.Join(root, "action", "*.sh"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no action scripts: %v", err)
	}
	scripts = append(scripts, filepath.Join(root, "hack", "release", "build.sh"))
	for _, s := range scripts {
		if info, err := os.Stat(s); err != nil || info.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable: %v", s, err)
		}
	}
	if out, err := exec.Command(shellcheck, scripts...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// actionJob runs action.yml's run steps as a GitHub runner would: each step's env:
// with its expressions evaluated, in bash, with the runner's files for outputs, PATH
// additions and the job summary. Steps that use other actions (setup-go, cache) are
// not run: the machine's Go is used and nothing is cached.
type actionJob struct {
	t         *testing.T
	a         *action
	dir       string
	env       []string
	actionRef string
	outputs   map[string]map[string]string
	path      []string
}

func newActionJob(t *testing.T, env ...string) *actionJob {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"temp", "home", "toolcache"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	j := &actionJob{t: t, a: loadAction(t), dir: dir, outputs: map[string]map[string]string{}}
	// A separate HOME keeps the kubeconfig and gitmig's cache in the test's folder;
	// Go's own caches stay where they are.
	keep := []string{"PATH=" + os.Getenv("PATH")}
	for _, name := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "GOPROXY", "GONOSUMDB", "GOPRIVATE", "GOTOOLCHAIN"} {
		if out, err := exec.Command("go", "env", name).Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
			keep = append(keep, name+"="+strings.TrimSpace(string(out)))
		}
	}
	j.env = append(keep,
		"HOME="+filepath.Join(dir, "home"),
		"RUNNER_TEMP="+filepath.Join(dir, "temp"),
		"RUNNER_TOOL_CACHE="+filepath.Join(dir, "toolcache"),
		"GITHUB_ACTION_PATH="+abs,
		"GITHUB_STEP_SUMMARY="+filepath.Join(dir, "summary.md"),
	)
	j.env = append(j.env, env...)
	return j
}

// eval replaces the ${{ }} expressions of a step's env: value.
func (j *actionJob) eval(text string, inputs map[string]string) string {
	return expression.ReplaceAllStringFunc(text, func(expr string) string {
		e := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(expr, "${{"), "}}"))
		switch {
		case e == "github.action_ref":
			return j.actionRef
		case strings.HasPrefix(e, "inputs."):
			name := strings.TrimPrefix(e, "inputs.")
			if v, ok := inputs[name]; ok {
				return v
			}
			return j.a.Inputs[name].Default
		case strings.HasPrefix(e, "steps."):
			parts := strings.Split(e, ".")
			if len(parts) == 4 && parts[2] == "outputs" {
				return j.outputs[parts[1]][parts[3]]
			}
		}
		j.t.Fatalf("the test runner cannot evaluate %s", expr)
		return ""
	})
}

// run runs the step with id and returns its log.
func (j *actionJob) run(id string, inputs map[string]string) (string, error) {
	j.t.Helper()
	s := j.a.step(j.t, id)
	output := filepath.Join(j.dir, "output-"+id)
	pathFile := filepath.Join(j.dir, "path")
	env := slices.Clone(j.env)
	env = append(env, "GITHUB_OUTPUT="+output, "GITHUB_PATH="+pathFile)
	if len(j.path) > 0 {
		env[0] = "PATH=" + strings.Join(j.path, string(os.PathListSeparator)) + string(os.PathListSeparator) + os.Getenv("PATH")
	}
	stepEnv, _ := s["env"].(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(stepEnv)) {
		env = append(env, k+"="+j.eval(str(stepEnv[k]), inputs))
	}
	cmd := exec.Command("bash", "-e", "-c", str(s["run"]))
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if data, rerr := os.ReadFile(output); rerr == nil {
		j.outputs[id] = map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				j.outputs[id][k] = v
			}
		}
	}
	if data, rerr := os.ReadFile(pathFile); rerr == nil {
		j.path = slices.DeleteFunc(strings.Split(strings.TrimSpace(string(data)), "\n"), func(s string) bool { return s == "" })
		slices.Reverse(j.path) // the newest addition first, as the runner does
	}
	return string(out), err
}

func (j *actionJob) summary() string {
	data, err := os.ReadFile(filepath.Join(j.dir, "summary.md"))
	if err != nil && !os.IsNotExist(err) {
		j.t.Fatal(err)
	}
	return string(data)
}

// releaseArchive is a release's archive for this machine holding a stand-in gitmig.
func releaseArchive(t *testing.T, version string) (name string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	script := []byte("#!/bin/sh\necho 'gitmig " + version + " (stand-in)'\n")
	if err := tw.WriteHeader(&tar.Header{Name: "gitmig", Mode: 0o755, Size: int64(len(script)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(script); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("gitmig_%s_%s_%s.tar.gz", version, runtime.GOOS, runtime.GOARCH), buf.Bytes()
}

// TestActionInstallsARelease runs the action's install path against a release server
// on this machine: the archive and checksums file named as the release workflow names
// them, one release intact, one whose archive does not match its checksum.
func TestActionInstallsARelease(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("the action installs releases on Linux and macOS runners")
	}
	files := map[string][]byte{}
	for _, v := range []string{"v9.9.9", "v9.9.8"} {
		name, data := releaseArchive(t, v)
		sum := sha256.Sum256(data)
		if v == "v9.9.8" {
			sum = sha256.Sum256(append(data, '!'))
		}
		files["/"+v+"/"+name] = data
		files["/"+v+"/gitmig_"+v+"_checksums.txt"] = []byte(hex.EncodeToString(sum[:]) + "  " + name + "\n")
	}
	var mu sync.Mutex
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.URL.Path)
		mu.Unlock()
		data, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	}))
	defer srv.Close()
	requested := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(requests)
	}
	install := func(j *actionJob, inputs map[string]string) (string, error) {
		if log, err := j.run("resolve", inputs); err != nil {
			return log, err
		}
		return j.run("install", inputs)
	}

	// Used at a release tag, the action installs that release.
	j := newActionJob(t, "GITMIG_RELEASE_URL="+srv.URL)
	j.actionRef = "v9.9.9"
	log, err := install(j, nil)
	if err != nil {
		t.Fatalf("install v9.9.9: %v\n%s", err, log)
	}
	if got := j.outputs["resolve"]; got["version"] != "v9.9.9" || got["source"] != "false" {
		t.Errorf("resolve outputs %v, want release v9.9.9", got)
	}
	if !strings.Contains(log, "gitmig v9.9.9 (stand-in)") {
		t.Errorf("the installed gitmig did not run:\n%s", log)
	}
	binDir := j.outputs["resolve"]["bin-dir"]
	if len(j.path) != 1 || j.path[0] != binDir {
		t.Errorf("GITHUB_PATH gets %v, want %s", j.path, binDir)
	}
	name, _ := releaseArchive(t, "v9.9.9")
	if want := []string{"/v9.9.9/" + name, "/v9.9.9/gitmig_v9.9.9_checksums.txt"}; !slices.Equal(requested(), want) {
		t.Errorf("requests %v, want %v", requested(), want)
	}
	// A second job step finds it where actions/cache restores it, and downloads nothing.
	if log, err := j.run("install", nil); err != nil || !strings.Contains(log, "restored from the cache") || len(requested()) != 2 {
		t.Errorf("install again: %v, %d requests\n%s", err, len(requested()), log)
	}

	// An archive that does not match the checksums file is refused and not installed.
	j = newActionJob(t, "GITMIG_RELEASE_URL="+srv.URL)
	log, err = install(j, map[string]string{"version": "v9.9.8"})
	if err == nil || !strings.Contains(log, "does not match gitmig_v9.9.8_checksums.txt") {
		t.Errorf("a corrupt archive: err %v\n%s", err, log)
	}
	if _, err := os.Stat(filepath.Join(j.outputs["resolve"]["bin-dir"], "gitmig")); err == nil {
		t.Error("the corrupt archive's gitmig was installed")
	}

	// A release that does not exist fails, naming what it could not download.
	log, err = install(newActionJob(t, "GITMIG_RELEASE_URL="+srv.URL), map[string]string{"version": "v1.0.0"})
	if err == nil || !strings.Contains(log, "downloading "+srv.URL+"/v1.0.0/") {
		t.Errorf("a missing release: err %v\n%s", err, log)
	}

	// What the action installs when the version input is empty or set.
	for _, tc := range []struct{ ref, version, want string }{
		{ref: "v1.2.3", want: "v1.2.3"},
		{ref: "v1.2.3-rc.1", want: "v1.2.3-rc.1"},
		{ref: "main", want: "source"},
		{ref: "0123456789abcdef0123456789abcdef01234567", want: "source"},
		{ref: "v1", want: "source"},
		{ref: "", want: "source"},
		{ref: "main", version: "v1.0.0", want: "v1.0.0"},
		{ref: "v1.2.3", version: "source", want: "source"},
	} {
		j := newActionJob(t)
		j.actionRef = tc.ref
		if log, err := j.run("resolve", map[string]string{"version": tc.version}); err != nil {
			t.Errorf("ref %q version %q: %v\n%s", tc.ref, tc.version, err, log)
			continue
		}
		if got := j.outputs["resolve"]["version"]; got != tc.want {
			t.Errorf("ref %q version %q: installs %q, want %q", tc.ref, tc.version, got, tc.want)
		}
	}
	if log, err := newActionJob(t).run("resolve", map[string]string{"version": "1.2"}); err == nil || !strings.Contains(log, `version input "1.2"`) {
		t.Errorf("version 1.2 accepted: %v\n%s", err, log)
	}

	// gitmig's build cache: where the job says, else gitmig/builds in the user's cache
	// folder; "off" stays off, for gitmig and for actions/cache.
	for env, want := range map[string]string{"": "/home/.cache/gitmig/builds", "GITMIG_CACHE_DIR=/srv/cache": "/srv/cache", "GITMIG_CACHE_DIR=off": "off"} {
		j := newActionJob(t, env)
		if log, err := j.run("resolve", nil); err != nil {
			t.Fatalf("%s: %v\n%s", env, err, log)
		}
		if got := j.outputs["resolve"]["cache-dir"]; !strings.HasSuffix(got, want) || (want == "off" && got != "off") {
			t.Errorf("%s: cache-dir %q, want %s", env, got, want)
		}
	}
}

// fleetRepo seeds a bare remote with examples/fleet-repo, its gitmig.yaml rewritten
// for the local forge on that remote with engine none, and clones it as a CI checkout
// with full history would, and returns the clone.
func fleetRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	remote := filepath.Join(dir, "fleet.git")
	files := fstest.MapFS{}
	err := fs.WalkDir(os.DirFS(filepath.Join(root, "examples", "fleet-repo")), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(filepath.Join(root, "examples", "fleet-repo", p))
		files[p] = &fstest.MapFile{Data: data, Mode: 0o644}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if files["gitmig.yaml"].Data, err = example.LocalConfig(files["gitmig.yaml"].Data, remote); err != nil {
		t.Fatal(err)
	}
	if _, err := workspace.Seed(remote, "main", files, "gitmig", "gitmig@localhost", time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "fleet")
	gittest.Run(t, "", "clone", "--quiet", remote, work)
	return work
}

// TestActionBuildsFromSourceAndRunsOnAFleet runs the action as this repository's own
// CI uses it (version: source) on a copy of examples/fleet-repo: it builds gitmig from
// this checkout, then runs verify, a dry-run reconcile pass and a failing command, and
// checks the log, the job summary, the kubeconfig and that the token shows nowhere.
func TestActionBuildsFromSourceAndRunsOnAFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gitmig: skipped with -short")
	}
	work := fleetRepo(t)
	j := newActionJob(t)
	for _, id := range []string{"resolve", "install"} {
		if log, err := j.run(id, map[string]string{"version": "source"}); err != nil {
			t.Fatalf("%s: %v\n%s", id, err, log)
		}
	}

	log, err := j.run("run", map[string]string{"command": "verify", "working-directory": work})
	if err != nil || !strings.Contains(log, "ok: 2 clusters build, every service is reachable") {
		t.Fatalf("verify: %v\n%s", err, log)
	}
	if s := j.summary(); !strings.Contains(s, "## gitmig verify\n\n````text\nok: 2 clusters build, every service is reachable\n````\n") {
		t.Errorf("the summary lacks verify's output in a code block:\n%s", s)
	}
	// gitmig opens its build cache in the folder the action keeps.
	if entries, err := os.ReadDir(j.outputs["resolve"]["cache-dir"]); err != nil || len(entries) == 0 {
		t.Errorf("gitmig wrote nothing to the cache-dir the action keeps: %v, %v", entries, err)
	}

	const token = "ghs_not-a-real-token-0123456789"
	metrics, err := filepath.Abs(filepath.Join("testdata", "fleet-edge-overloaded.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	before := j.summary()
	log, err = j.run("run", map[string]string{
		"command":           "reconcile --once --dry-run --metrics " + metrics,
		"working-directory": work,
		"token":             token,
		"kubeconfig":        "apiVersion: v1\nkind: Config\n",
		"kubeconfig-path":   "~/kube/gitmig",
	})
	if err != nil || !strings.Contains(log, "would record checkout-edge-to-cloud-20260504-0900") {
		t.Fatalf("reconcile --once --dry-run: %v\n%s", err, log)
	}
	added := strings.TrimPrefix(j.summary(), before)
	// gitmig writes the pass's summary itself; the action adds nothing to it.
	if !strings.HasPrefix(added, "## gitmig reconcile at `") || !strings.Contains(added, "(dry run)") ||
		!strings.Contains(added, "| checkout | edge | cloud |") || strings.Count(added, "## gitmig") != 1 {
		t.Errorf("the pass's summary:\n%s", added)
	}
	info, err := os.Stat(filepath.Join(j.dir, "home", "kube", "gitmig"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the kubeconfig: %v, mode %v; want it written with 0600", err, info)
	}

	log, err = j.run("run", map[string]string{"command": "migrate nosuch --to cloud --dry-run", "working-directory": work, "token": token})
	if err == nil {
		t.Fatalf("a failing command succeeded:\n%s", log)
	}
	if s := j.summary(); !strings.Contains(s, "## gitmig migrate nosuch --to cloud --dry-run\n\n> [!CAUTION]\n> gitmig exited with status 1.") {
		t.Errorf("the summary does not show the failure:\n%s", s)
	}
	if strings.Contains(log, token) || strings.Contains(j.summary(), token) {
		t.Error("the token shows in the log or the job summary")
	}
}
