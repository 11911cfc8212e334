package workflows

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	reconcilecmd "github.com/gitmig/gitmig/internal/cmd/reconcile"
	"github.com/gitmig/gitmig/internal/config"
)

// root is the repository root, seen from this package's folder.
const root = "../.."

type workflow map[string]any

func load(t *testing.T, name string) workflow {
	t.Helper()
	return loadFile(t, filepath.Join(".github", "workflows", name))
}

// loadFile reads a workflow by its path from the repository root.
func loadFile(t *testing.T, path string) workflow {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, string(data))
}

// allWorkflows returns every workflow the repository ships by path: its own, and the
// example fleet repository's.
func allWorkflows(t *testing.T) map[string]workflow {
	t.Helper()
	var paths []string
	for _, dir := range []string{".github/workflows", "examples/fleet-repo/.github/workflows"} {
		found, err := filepath.Glob(filepath.Join(root, dir, "*.yml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			paths = append(paths, filepath.Join(dir, filepath.Base(f)))
		}
	}
	if len(paths) == 0 {
		t.Fatal("no workflows found")
	}
	all := map[string]workflow{}
	for _, p := range paths {
		all[p] = loadFile(t, p)
	}
	return all
}

func parse(t *testing.T, text string) workflow {
	t.Helper()
	var wf workflow
	if err := yaml.Unmarshal([]byte(text), &wf); err != nil {
		t.Fatal(err)
	}
	return wf
}

// triggers returns the `on:` section. sigs.k8s.io/yaml reads YAML 1.1, where a bare
// `on` key is the boolean true; GitHub reads it as "on".
func (wf workflow) triggers() map[string]any {
	for _, key := range []string{"on", "true"} {
		if on, ok := wf[key].(map[string]any); ok {
			return on
		}
	}
	return nil
}

func (wf workflow) jobs() map[string]map[string]any {
	jobs := map[string]map[string]any{}
	all, _ := wf["jobs"].(map[string]any)
	for name, j := range all {
		jobs[name], _ = j.(map[string]any)
	}
	return jobs
}

// steps returns every step of every job, in job name order.
func (wf workflow) steps() []map[string]any {
	var steps []map[string]any
	jobs := wf.jobs()
	for _, name := range slices.Sorted(maps.Keys(jobs)) {
		list, _ := jobs[name]["steps"].([]any)
		for _, s := range list {
			if m, ok := s.(map[string]any); ok {
				steps = append(steps, m)
			}
		}
	}
	return steps
}

// step returns the first step whose run script or uses contains substr.
func (wf workflow) step(t *testing.T, substr string) map[string]any {
	t.Helper()
	for _, s := range wf.steps() {
		run, _ := s["run"].(string)
		uses, _ := s["uses"].(string)
		if strings.Contains(run, substr) || strings.Contains(uses, substr) {
			return s
		}
	}
	t.Fatalf("no step runs or uses %q", substr)
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func lookup(v any, keys ...string) any {
	if wf, ok := v.(workflow); ok {
		v = map[string]any(wf)
	}
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// expandMinutes expands a cron minute field: lists, ranges, * and steps.
func expandMinutes(field string) ([]int, error) {
	var minutes []int
	for _, part := range strings.Split(field, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			var err error
			if step, err = strconv.Atoi(stepText); err != nil || step <= 0 {
				return nil, fmt.Errorf("bad step in %q", part)
			}
		}
		lo, hi := 0, 59
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err1, err2 error
			lo, err1 = strconv.Atoi(a)
			hi, err2 = strconv.Atoi(b)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("bad range %q", rng)
			}
		default:
			n, err := strconv.Atoi(rng)
			if err != nil {
				return nil, fmt.Errorf("bad minute %q", rng)
			}
			lo, hi = n, n
			if hasStep {
				hi = 59
			}
		}
		if lo < 0 || hi > 59 || lo > hi {
			return nil, fmt.Errorf("minute out of range in %q", part)
		}
		for m := lo; m <= hi; m += step {
			minutes = append(minutes, m)
		}
	}
	slices.Sort(minutes)
	return slices.Compact(minutes), nil
}

// scheduleProblems checks a cron line: every hour of every day, four times an hour 15
// minutes apart, never at minute 0.
func scheduleProblems(cron string) []string {
	fields := strings.Fields(cron)
	if len(fields) != 5 {
		return []string{fmt.Sprintf("cron %q: want 5 fields", cron)}
	}
	var problems []string
	if got := strings.Join(fields[1:], " "); got != "* * * *" {
		problems = append(problems, fmt.Sprintf("cron %q runs only some hours or days (%s)", cron, got))
	}
	minutes, err := expandMinutes(fields[0])
	if err != nil {
		return append(problems, fmt.Sprintf("cron %q: %v", cron, err))
	}
	if len(minutes) != 4 {
		problems = append(problems, fmt.Sprintf("cron %q runs %d times an hour, want 4 (every 15 minutes)", cron, len(minutes)))
	}
	for i, m := range minutes {
		if next := (minutes[(i+1)%len(minutes)] - m + 60) % 60; len(minutes) > 1 && next != 15 {
			problems = append(problems, fmt.Sprintf("cron %q: %d minutes between :%02d and the next run, want 15", cron, next, m))
		}
	}
	if slices.Contains(minutes, 0) {
		problems = append(problems, fmt.Sprintf("cron %q runs on the hour, when GitHub delays and drops scheduled runs most", cron))
	}
	return problems
}

func TestGitmigSchedule(t *testing.T) {
	schedule, _ := load(t, "gitmig.yml").triggers()["schedule"].([]any)
	if len(schedule) != 1 {
		t.Fatalf("want one schedule, got %v", schedule)
	}
	cron := str(lookup(schedule[0], "cron"))
	for _, p := range scheduleProblems(cron) {
		t.Error(p)
	}
	// The check itself must reject what it is for.
	for _, bad := range []string{"*/15 * * * *", "0,15,30,45 * * * *", "7 * * * *", "7,22,37,52 9-17 * * *", "7,20,37,52 * * * *"} {
		if len(scheduleProblems(bad)) == 0 {
			t.Errorf("scheduleProblems accepts %q", bad)
		}
	}
	if p := scheduleProblems("7-59/15 * * * *"); len(p) != 0 {
		t.Errorf("scheduleProblems rejects a step form of the same schedule: %v", p)
	}
}

func TestTriggers(t *testing.T) {
	for file, want := range map[string][]string{
		"ci.yml":     {"pull_request", "push"},
		"gitmig.yml": {"pull_request", "push", "repository_dispatch", "schedule", "workflow_dispatch"},
	} {
		if got := slices.Sorted(maps.Keys(load(t, file).triggers())); !slices.Equal(got, want) {
			t.Errorf("%s triggers on %v, want %v", file, got, want)
		}
	}
}

func TestGitmigDispatchInputs(t *testing.T) {
	inputs, _ := lookup(load(t, "gitmig.yml").triggers(), "workflow_dispatch", "inputs").(map[string]any)
	want := map[string]struct {
		typ      string
		required bool
	}{
		"service": {"string", true},
		"to":      {"string", true},
		"dry_run": {"boolean", false},
		"force":   {"boolean", false},
	}
	if got := slices.Sorted(maps.Keys(inputs)); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("inputs %v, want %v", got, slices.Sorted(maps.Keys(want)))
	}
	for name, w := range want {
		in := inputs[name]
		if got := str(lookup(in, "type")); got != w.typ {
			t.Errorf("input %s has type %q, want %q", name, got, w.typ)
		}
		if got, _ := lookup(in, "required").(bool); got != w.required {
			t.Errorf("input %s: required %v, want %v", name, got, w.required)
		}
		if str(lookup(in, "description")) == "" {
			t.Errorf("input %s has no description", name)
		}
	}
	// A run started by hand without touching the checkbox only previews.
	if d, _ := lookup(inputs, "dry_run", "default").(bool); !d {
		t.Error("dry_run defaults to false: a careless click would open pull requests")
	}
}

func TestConcurrency(t *testing.T) {
	gitmig := load(t, "gitmig.yml")
	group := str(lookup(gitmig, "concurrency", "group"))
	if group == "" {
		t.Error("gitmig.yml has no concurrency group: two passes would race")
	}
	if strings.Contains(group, "github.ref") || strings.Contains(group, "github.run") {
		t.Errorf("gitmig.yml's concurrency group %q varies between runs: passes would overlap", group)
	}
	if cancel, _ := lookup(gitmig, "concurrency", "cancel-in-progress").(bool); cancel {
		t.Error("gitmig.yml cancels a pass in progress")
	}

	ci := load(t, "ci.yml")
	if group := str(lookup(ci, "concurrency", "group")); !strings.Contains(group, "${{ github.ref }}") {
		t.Errorf("ci.yml's concurrency group %q is not per ref", group)
	}
	if cancel, _ := lookup(ci, "concurrency", "cancel-in-progress").(bool); !cancel {
		t.Error("ci.yml does not cancel superseded runs")
	}
}

// permissionProblems compares a workflow's permissions with want, and requires that no
// job widens them.
func permissionProblems(wf workflow, want map[string]string) []string {
	var problems []string
	got, ok := wf["permissions"].(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("no permissions map at the top (got %v): the token gets the repository's defaults", wf["permissions"])}
	}
	if len(got) != len(want) {
		problems = append(problems, fmt.Sprintf("permissions %v, want exactly %v", got, want))
	}
	for scope, level := range want {
		if str(got[scope]) != level {
			problems = append(problems, fmt.Sprintf("permissions.%s is %q, want %q", scope, got[scope], level))
		}
	}
	for name, job := range wf.jobs() {
		if p, ok := job["permissions"]; ok {
			problems = append(problems, fmt.Sprintf("job %s sets its own permissions %v", name, p))
		}
	}
	return problems
}

func TestPermissions(t *testing.T) {
	for _, p := range permissionProblems(load(t, "gitmig.yml"), map[string]string{"contents": "write", "pull-requests": "write", "statuses": "write"}) {
		t.Error("gitmig.yml:", p)
	}
	for _, p := range permissionProblems(load(t, "ci.yml"), map[string]string{"contents": "read"}) {
		t.Error("ci.yml:", p)
	}
	for _, bad := range []string{
		"permissions: write-all\njobs: {}\n",
		"permissions: {contents: write, pull-requests: write, statuses: write, issues: write}\njobs: {}\n",
		"permissions: {contents: write, pull-requests: write, statuses: write}\njobs: {a: {permissions: {actions: write}}}\n",
	} {
		if len(permissionProblems(parse(t, bad), map[string]string{"contents": "write", "pull-requests": "write", "statuses": "write"})) == 0 {
			t.Errorf("permissionProblems accepts %q", bad)
		}
	}
}

var (
	expression = regexp.MustCompile(`\$\{\{[^}]*\}\}`)
	// inputRef catches inputs.x, github.event.inputs.x and the index forms.
	inputRef  = regexp.MustCompile(`\b(github\.event\.)?inputs\s*(\.|\[)`)
	secretRef = regexp.MustCompile(`\bsecrets\s*(\.|\[)`)
)

// injectionProblems walks a workflow and reports every ${{ }} expression in a run:
// script (the runner pastes it into the script as text, so an input or a branch name
// becomes shell code, and a secret lands in the process table), and every secret used
// anywhere but in an env: or with: value.
func injectionProblems(wf workflow) []string {
	var problems []string
	var walk func(v any, path []string)
	walk = func(v any, path []string) {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(v)) {
				walk(v[k], append(slices.Clone(path), k))
			}
		case []any:
			for i, e := range v {
				walk(e, append(slices.Clone(path), strconv.Itoa(i)))
			}
		case string:
			where := strings.Join(path, ".")
			for _, expr := range expression.FindAllString(v, -1) {
				switch {
				case path[len(path)-1] == "run" && inputRef.MatchString(expr):
					problems = append(problems, fmt.Sprintf("%s: input %s pasted into a shell script; pass it through env:", where, expr))
				case path[len(path)-1] == "run" && secretRef.MatchString(expr):
					problems = append(problems, fmt.Sprintf("%s: secret %s pasted into a shell script; pass it through env:", where, expr))
				case path[len(path)-1] == "run":
					problems = append(problems, fmt.Sprintf("%s: expression %s pasted into a shell script; pass it through env:", where, expr))
				case secretRef.MatchString(expr) && !slices.Contains(path, "env") && !slices.Contains(path, "with"):
					problems = append(problems, fmt.Sprintf("%s: secret %s outside env: and with:", where, expr))
				}
			}
		}
	}
	walk(map[string]any(wf), nil)
	return problems
}

func TestNoInputOrSecretReachesAScript(t *testing.T) {
	for file, wf := range allWorkflows(t) {
		for _, p := range injectionProblems(wf) {
			t.Errorf("%s: %s", file, p)
		}
	}
	for _, bad := range []string{
		"jobs: {a: {steps: [{run: 'gitmig migrate ${{ inputs.service }}'}]}}",
		"jobs: {a: {steps: [{run: 'gitmig migrate ${{ github.event.inputs.service }}'}]}}",
		"jobs: {a: {steps: [{run: 'gitmig migrate ${{inputs[''service'']}}'}]}}",
		"jobs: {a: {steps: [{run: 'curl -H \"Authorization: ${{ secrets.TOKEN }}\"'}]}}",
		"jobs: {a: {steps: [{run: 'git checkout ${{ github.head_ref }}'}]}}",
		"jobs: {a: {steps: [{name: '${{ secrets.TOKEN }}', run: 'true'}]}}",
		"jobs: {a: {if: '${{ secrets.TOKEN != '''' }}', steps: [{run: 'true'}]}}",
	} {
		if len(injectionProblems(parse(t, bad))) == 0 {
			t.Errorf("injectionProblems accepts %s", bad)
		}
	}
	for _, good := range []string{
		"jobs: {a: {steps: [{env: {SERVICE: '${{ inputs.service }}', TOKEN: '${{ secrets.TOKEN }}'}, run: 'gitmig migrate \"$SERVICE\"'}]}}",
		"jobs: {a: {steps: [{uses: 'x/y@v1', with: {key: '${{ secrets.KEY }}'}}]}}",
	} {
		if p := injectionProblems(parse(t, good)); len(p) != 0 {
			t.Errorf("injectionProblems rejects %s: %v", good, p)
		}
	}
}

func TestActionsArePinnedToMajorVersions(t *testing.T) {
	major := regexp.MustCompile(`^[\w.-]+/[\w.-]+(/[\w./-]+)?@v\d+$`)
	// gitmig's own action installs the release of its ref, so it is pinned to one.
	gitmigRelease := regexp.MustCompile(`^gitmig/gitmig@v\d+\.\d+\.\d+$`)
	for file, wf := range allWorkflows(t) {
		for _, s := range wf.steps() {
			if uses := str(s["uses"]); uses != "" && !major.MatchString(uses) && !gitmigRelease.MatchString(uses) {
				t.Errorf("%s: %q is not pinned to a major version tag", file, uses)
			}
		}
	}
}

// exampleConfig is the repository's gitmig.yaml, which the workflows must agree with.
func exampleConfig(t *testing.T) *config.Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "gitmig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestGitmigJob(t *testing.T) {
	wf := load(t, "gitmig.yml")
	cfg := exampleConfig(t)

	app := wf.step(t, "actions/create-github-app-token@")
	if !strings.Contains(str(lookup(app, "with", "app-id")), "vars.") {
		t.Errorf("the App id does not come from a repository variable: %v", lookup(app, "with", "app-id"))
	}
	if !strings.Contains(str(lookup(app, "with", "private-key")), "secrets.") {
		t.Errorf("the App key does not come from a secret: %v", lookup(app, "with", "private-key"))
	}
	for _, scope := range []string{"contents", "pull-requests", "statuses"} {
		if got := str(lookup(app, "with", "permission-"+scope)); got != "write" {
			t.Errorf("the App token's %s permission is %q, want write", scope, got)
		}
	}
	if str(app["id"]) == "" || !strings.Contains(str(app["if"]), "vars.") {
		t.Errorf("the App token step needs an id and must be skipped when no App is configured: id %q if %q", app["id"], app["if"])
	}

	reconcile := wf.step(t, "reconcile --follow")
	migrate := wf.step(t, "migrate")
	for name, s := range map[string]map[string]any{"reconcile": reconcile, "migrate": migrate} {
		// The token under the name gitmig.yaml's gitops.github.tokenEnv gives, from the
		// App, else GITHUB_TOKEN.
		token := str(lookup(s, "env", cfg.GitOps.GitHub.TokenEnv))
		if !strings.Contains(token, "steps."+str(app["id"])+".outputs.token") || !strings.Contains(token, "secrets.GITHUB_TOKEN") {
			t.Errorf("%s: env %s = %q, want the App's token falling back to GITHUB_TOKEN", name, cfg.GitOps.GitHub.TokenEnv, token)
		}
	}
	if !strings.Contains(str(reconcile["if"]), "!= 'workflow_dispatch'") || !strings.Contains(str(migrate["if"]), "== 'workflow_dispatch'") {
		t.Errorf("reconcile runs if %q, migrate if %q: want every event but the dispatch, and the dispatch", reconcile["if"], migrate["if"])
	}
	for env, want := range map[string]string{"GITMIG_PROMETHEUS_URL": "vars.", "GITMIG_PROMETHEUS_TOKEN": "secrets.", "GITMIG_PROMETHEUS_USERNAME": "secrets.", "GITMIG_PROMETHEUS_PASSWORD": "secrets."} {
		for name, job := range map[string]map[string]any{"reconcile": reconcile, "migrate": migrate} {
			if got := str(lookup(job, "env", env)); !strings.Contains(got, want) {
				t.Errorf("%s: env %s = %q, want it from %s", name, env, got, want)
			}
		}
		if strings.Contains(str(reconcile["run"]), "PROMETHEUS_TOKEN") || strings.Contains(str(reconcile["run"]), "PASSWORD") {
			t.Errorf("reconcile's script names a Prometheus credential: it belongs in the environment only")
		}
	}
	for env, input := range map[string]string{"SERVICE": "inputs.service", "TO": "inputs.to", "DRY_RUN": "inputs.dry_run", "FORCE": "inputs.force"} {
		if got := str(lookup(migrate, "env", env)); !strings.Contains(got, input) {
			t.Errorf("migrate: env %s = %q, want %s", env, got, input)
		}
	}
	script := str(migrate["run"])
	for _, want := range []string{`"$SERVICE"`, `"$TO"`, `--dry-run`, `"$DRY_RUN" = true`, `--force`, `"$FORCE" = true`} {
		if !strings.Contains(script, want) {
			t.Errorf("migrate's script lacks %s:\n%s", want, script)
		}
	}
}

func TestCIJob(t *testing.T) {
	wf := load(t, "ci.yml")
	for _, want := range []string{"gofmt -l", "go vet ./...", "golangci/golangci-lint-action@", "go test -race -timeout 45m ./...", "go run ./cmd/gitmig verify", "actionlint"} {
		wf.step(t, want)
	}
	steps := wf.steps()
	index := func(substr string) int {
		return slices.IndexFunc(steps, func(s map[string]any) bool { return strings.Contains(str(s["run"]), substr) })
	}
	if install, test := index("apt-get install"), index("go test -race"); install < 0 || install > test ||
		!strings.Contains(str(steps[install]["run"]), "prometheus") || !strings.Contains(str(steps[install]["run"]), "etcd-server") {
		t.Error("ci.yml does not install prometheus and etcd-server before go test")
	}
	for _, s := range steps {
		if strings.HasPrefix(str(s["uses"]), "actions/setup-go@") {
			if cache, _ := lookup(s, "with", "cache").(bool); !cache || str(lookup(s, "with", "go-version-file")) != "go.mod" {
				t.Errorf("setup-go without the module cache or go.mod's version: %v", s["with"])
			}
		}
	}
}

// The project's own job follows, as the fleet example's does: a run triggered by a
// merge keeps passing while the step waits for the engine, and the job outlives it.
func TestGitmigFollows(t *testing.T) {
	wf := load(t, "gitmig.yml")
	reconcile := wf.step(t, "reconcile --follow")
	if run := strings.TrimSpace(str(reconcile["run"])); run != "gitmig reconcile --follow --timeout 15m" {
		t.Errorf("the pass runs %q", run)
	}
	if minutes, _ := strconv.Atoi(fmt.Sprint(wf.jobs()["gitmig"]["timeout-minutes"])); time.Duration(minutes)*time.Minute < 15*time.Minute+reconcilecmd.DefaultTimeout {
		t.Errorf("timeout-minutes %v cuts the follow short", wf.jobs()["gitmig"]["timeout-minutes"])
	}
}
