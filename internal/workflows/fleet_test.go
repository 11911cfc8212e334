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
	"time"

	reconcilecmd "github.com/gitmig/gitmig/internal/cmd/reconcile"
	rootcmd "github.com/gitmig/gitmig/internal/cmd/root"
	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/testenv/gittest"
)

const fleetWorkflows = "examples/fleet-repo/.github/workflows/"

// gitmigSteps returns the steps of wf that use the gitmig action, by job.
func gitmigSteps(wf workflow) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for name, job := range wf.jobs() {
		steps, _ := job["steps"].([]any)
		for _, s := range steps {
			if m, ok := s.(map[string]any); ok && strings.HasPrefix(str(m["uses"]), "gitmig/gitmig@") {
				out[name] = append(out[name], m)
			}
		}
	}
	return out
}

func TestFleetWorkflowsUseOneGitmigRelease(t *testing.T) {
	versions := map[string]bool{}
	for _, file := range []string{"gitmig.yml", "fleet-ci.yml"} {
		for _, steps := range gitmigSteps(loadFile(t, fleetWorkflows+file)) {
			for _, s := range steps {
				versions[str(s["uses"])] = true
			}
		}
	}
	if len(versions) != 1 {
		t.Errorf("the fleet workflows use %v: want one release of the gitmig action", slices.Sorted(maps.Keys(versions)))
	}
}

func TestFleetGitmigWorkflow(t *testing.T) {
	wf := loadFile(t, fleetWorkflows+"gitmig.yml")
	on := wf.triggers()
	if got, want := slices.Sorted(maps.Keys(on)), []string{"pull_request", "push", "repository_dispatch", "schedule", "workflow_dispatch"}; !slices.Equal(got, want) {
		t.Errorf("triggers %v, want %v", got, want)
	}
	schedule, _ := on["schedule"].([]any)
	if len(schedule) != 1 {
		t.Fatalf("want one schedule, got %v", schedule)
	}
	for _, p := range scheduleProblems(str(lookup(schedule[0], "cron"))) {
		t.Error(p)
	}
	if types, _ := lookup(on, "pull_request", "types").([]any); !slices.Equal(types, []any{"closed"}) {
		t.Errorf("pull_request types %v, want [closed]", types)
	}
	// gitmig's own record commits would otherwise start a pass each.
	if ignore, _ := lookup(on, "push", "paths-ignore").([]any); !slices.Contains(ignore, any("migrations/**")) {
		t.Errorf("push paths-ignore %v lacks migrations/**", ignore)
	}
	if d, _ := lookup(on, "workflow_dispatch", "inputs", "dry_run", "default").(bool); !d {
		t.Error("dry_run defaults to false: a careless click would open pull requests")
	}
	if str(lookup(wf, "concurrency", "group")) != "gitmig" {
		t.Errorf("concurrency group %q, want one group for every run", lookup(wf, "concurrency", "group"))
	}
	if cancel, _ := lookup(wf, "concurrency", "cancel-in-progress").(bool); cancel {
		t.Error("a pass in progress is cancelled")
	}
	for _, p := range permissionProblems(wf, map[string]string{"contents": "write", "pull-requests": "write", "statuses": "write"}) {
		t.Error(p)
	}
	cond := str(wf.jobs()["gitmig"]["if"])
	for _, want := range []string{"workflow_dispatch", "vars.GITMIG_SCHEDULE == 'enabled'", "startsWith(github.head_ref, 'gitmig/')", "!github.event.pull_request.merged"} {
		if !strings.Contains(cond, want) {
			t.Errorf("the job's if lacks %s: %s", want, cond)
		}
	}

	steps := gitmigSteps(wf)["gitmig"]
	if len(steps) != 2 {
		t.Fatalf("want the reconcile and migrate steps, got %v", steps)
	}
	reconcile, migrate := steps[0], steps[1]
	if got := str(lookup(reconcile, "with", "command")); got != "reconcile --follow --timeout 15m" {
		t.Errorf("the pass runs %q", got)
	}
	// The job outlives the follow and the pass under way at its end, which
	// reconcile.DefaultTimeout bounds.
	if minutes, _ := strconv.Atoi(fmt.Sprint(wf.jobs()["gitmig"]["timeout-minutes"])); time.Duration(minutes)*time.Minute < 15*time.Minute+reconcilecmd.DefaultTimeout {
		t.Errorf("timeout-minutes %v cuts the follow short", wf.jobs()["gitmig"]["timeout-minutes"])
	}
	if !strings.Contains(str(reconcile["if"]), "!= 'workflow_dispatch'") || !strings.Contains(str(migrate["if"]), "== 'workflow_dispatch'") {
		t.Errorf("reconcile runs if %q, migrate if %q", reconcile["if"], migrate["if"])
	}
	for name, s := range map[string]map[string]any{"reconcile": reconcile, "migrate": migrate} {
		if token := str(lookup(s, "with", "token")); !strings.Contains(token, "steps.app-token.outputs.token") || !strings.Contains(token, "secrets.GITHUB_TOKEN") {
			t.Errorf("%s: token %q, want the App's falling back to GITHUB_TOKEN", name, token)
		}
		if kc := str(lookup(s, "with", "kubeconfig")); kc != "${{ secrets.GITMIG_KUBECONFIG }}" {
			t.Errorf("%s: kubeconfig %q", name, kc)
		}
	}
	if got := str(lookup(reconcile, "with", "prometheus-url")); got != "${{ vars.GITMIG_PROMETHEUS_URL }}" {
		t.Errorf("prometheus-url %q", got)
	}
	for _, env := range []string{"GITMIG_PROMETHEUS_TOKEN", "GITMIG_PROMETHEUS_USERNAME", "GITMIG_PROMETHEUS_PASSWORD"} {
		if got := str(lookup(reconcile, "env", env)); got != "${{ secrets."+env+" }}" {
			t.Errorf("reconcile: env %s = %q", env, got)
		}
	}
	// The dispatch inputs become words of the command only after a step that keeps
	// each to one word.
	command := str(lookup(migrate, "with", "command"))
	for _, want := range []string{"migrate", "${{ inputs.to }}", "${{ inputs.dry_run && '--dry-run' || '' }}", "${{ inputs.force && '--force' || '' }}", "-- ${{ inputs.service }}"} {
		if !strings.Contains(command, want) {
			t.Errorf("migrate's command %q lacks %s", command, want)
		}
	}
	var check map[string]any
	for _, s := range wf.jobs()["gitmig"]["steps"].([]any) {
		if str(lookup(s, "name")) == "Check the inputs" {
			check = s.(map[string]any)
		}
	}
	if check == nil || str(lookup(check, "env", "SERVICE")) != "${{ inputs.service }}" || str(lookup(check, "env", "TO")) != "${{ inputs.to }}" {
		t.Fatalf("no step checks both dispatch inputs: %v", check)
	}
	// The check's own script, run by bash as the runner would.
	for value, ok := range map[string]bool{"checkout": true, "edge-2": true, "cloud --dry-run=false": false, "-x": false, "": false, "a;b": false} {
		cmd := exec.Command("bash", "-e", "-c", str(check["run"]))
		cmd.Env = append(os.Environ(), "SERVICE=checkout", "TO="+value)
		if out, err := cmd.CombinedOutput(); (err == nil) != ok {
			t.Errorf("the input check on %q: %v, want accepted %v\n%s", value, err, ok, out)
		}
	}
}

func TestFleetCIWorkflow(t *testing.T) {
	wf := loadFile(t, fleetWorkflows+"fleet-ci.yml")
	if got := slices.Sorted(maps.Keys(wf.triggers())); !slices.Equal(got, []string{"pull_request", "push"}) {
		t.Errorf("triggers %v, want pull_request and push", got)
	}
	for _, p := range permissionProblems(wf, map[string]string{"contents": "read"}) {
		t.Error(p)
	}
	if cancel, _ := lookup(wf, "concurrency", "cancel-in-progress").(bool); !cancel || !strings.Contains(str(lookup(wf, "concurrency", "group")), "${{ github.ref }}") {
		t.Errorf("concurrency %v: want per-ref groups that cancel superseded runs", wf["concurrency"])
	}
	job := wf.jobs()["step-branch"]
	if cond := str(job["if"]); !strings.Contains(cond, "github.event_name == 'pull_request'") || !strings.Contains(cond, "startsWith(github.head_ref, 'gitmig/')") {
		t.Errorf("the step-branch job runs if %q: want gitmig's pull requests only", cond)
	}
	// The check compares with main locally: the checkout must hold all history.
	steps, _ := job["steps"].([]any)
	if len(steps) == 0 || !strings.HasPrefix(str(lookup(steps[0], "uses")), "actions/checkout@") {
		t.Fatalf("the step-branch job does not start with a checkout: %v", steps)
	}
	if depth, ok := lookup(steps[0], "with", "fetch-depth").(float64); !ok || depth != 0 {
		t.Errorf("the step-branch job checks out with fetch-depth %v, want 0 (all history)", lookup(steps[0], "with", "fetch-depth"))
	}
}

// fleetCICommands returns the command the gitmig action runs in each fleet CI job.
func fleetCICommands(t *testing.T) map[string]string {
	t.Helper()
	commands := map[string]string{}
	for job, steps := range gitmigSteps(loadFile(t, fleetWorkflows+"fleet-ci.yml")) {
		if len(steps) != 1 {
			t.Fatalf("job %s runs the gitmig action %d times, want once", job, len(steps))
		}
		commands[job] = str(lookup(steps[0], "with", "command"))
	}
	if _, ok := commands["verify"]; !ok {
		t.Fatalf("no verify job among %v", commands)
	}
	if _, ok := commands["step-branch"]; !ok {
		t.Fatalf("no step-branch job among %v", commands)
	}
	return commands
}

// gitmigCLI runs a gitmig command line in this process, as the action runs it: the
// command's words after --repo dir, with the pull request's head branch for
// ${{ github.head_ref }}.
func gitmigCLI(t *testing.T, dir, command, headRef string) (string, error) {
	t.Helper()
	command = strings.ReplaceAll(command, "${{ github.head_ref }}", headRef)
	if strings.Contains(command, "${{") {
		t.Fatalf("the test cannot evaluate the expressions of %q", command)
	}
	var out bytes.Buffer
	err := rootcmd.Run(context.Background(), append([]string{"--repo", dir}, strings.Fields(command)...), cmdutil.Streams{In: strings.NewReader(""), Out: &out, Err: &out})
	return out.String(), err
}

// TestFleetCIOnTheExampleFleet runs the fleet CI's commands, as fleet-ci.yml gives them
// to the action, on a copy of examples/fleet-repo with the local forge: verify passes;
// the step pull requests gitmig opens pass the step check; a step branch altered
// afterwards, amended or with a commit on top, fails it, naming what changed.
func TestFleetCIOnTheExampleFleet(t *testing.T) {
	commands := fleetCICommands(t)
	work := fleetRepo(t)
	cli := func(command, headRef string) (string, error) {
		t.Helper()
		return gitmigCLI(t, work, command, headRef)
	}
	if out, err := cli(commands["verify"], ""); err != nil || !strings.Contains(out, "ok: 2 clusters build") {
		t.Fatalf("%s: %v\n%s", commands["verify"], err, out)
	}

	// gitmig opens step 1, as `gitmig migrate` does from the workflow's dispatch; the
	// example's Prometheus is not reachable here, so policy cannot weigh the move and
	// the dispatch forces it.
	if out, err := cli("migrate checkout --to cloud --force", ""); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	gittest.Run(t, work, "fetch", "--quiet", "origin")
	branch := gittest.Run(t, work, "for-each-ref", "--format=%(refname:lstrip=3)", "refs/remotes/origin/gitmig/")
	if !regexp.MustCompile(`^gitmig/checkout-edge-to-cloud-\d{8}-\d{4}/1-deploy$`).MatchString(branch) {
		t.Fatalf("gitmig pushed %q, want one step 1 branch", branch)
	}
	head := gittest.Run(t, work, "rev-parse", "origin/"+branch)
	out, err := cli(commands["step-branch"], branch)
	if err != nil || !strings.Contains(out, "ok: "+branch+" ("+head[:7]+") is exactly step 1-deploy") {
		t.Fatalf("%s on gitmig's own step: %v\n%s", commands["step-branch"], err, out)
	}
	// The head commit names the branch as well.
	if out, err := cli("verify --step-branch "+head, ""); err != nil {
		t.Errorf("verify --step-branch %s: %v\n%s", head, err, out)
	}

	// Someone amends the step's overlay and force-pushes.
	kustomization := "clusters/cloud/kustomization.yaml"
	gittest.Run(t, work, "checkout", "--quiet", "-b", "tamper", "origin/"+branch)
	appendFile(t, filepath.Join(work, kustomization), "# tuned by hand\n")
	gittest.Run(t, work, "commit", "--quiet", "--amend", "--all", "--no-edit")
	gittest.Run(t, work, "push", "--quiet", "--force", "origin", "HEAD:"+branch)
	gittest.Run(t, work, "fetch", "--quiet", "origin")
	out, err = cli(commands["step-branch"], branch)
	if err == nil || !strings.Contains(out, branch+": "+kustomization+": differs from what gitmig writes for step 1-deploy") {
		t.Errorf("an amended step passed, or the file is not named: %v\n%s", err, out)
	}

	// Someone adds a commit on top of gitmig's.
	gittest.Run(t, work, "reset", "--quiet", "--hard", head)
	if err := os.WriteFile(filepath.Join(work, "clusters/cloud/debug.yaml"), []byte("kind: ConfigMap\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, work, "add", "clusters/cloud/debug.yaml")
	gittest.Run(t, work, "commit", "--quiet", "-m", "Debug the cloud")
	gittest.Run(t, work, "push", "--quiet", "--force", "origin", "HEAD:"+branch)
	gittest.Run(t, work, "fetch", "--quiet", "origin")
	out, err = cli(commands["step-branch"], branch)
	for _, want := range []string{"2 commits on top of main", `"Debug the cloud"`, "clusters/cloud/debug.yaml: on the branch, but not in what gitmig writes"} {
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("a commit on top: %v, output lacks %q:\n%s", err, want, out)
		}
	}

	// Put gitmig's commit back, merge it, and the next pass's step 2 passes too: its
	// record carries step 1's pull request, which only the forge knew.
	gittest.Run(t, work, "push", "--quiet", "--force", "origin", head+":refs/heads/"+branch)
	if out, err := cli("pr merge 1", ""); err != nil {
		t.Fatalf("pr merge 1: %v\n%s", err, out)
	}
	if out, err := cli("reconcile --once --metrics testdata/fleet-edge-overloaded.yaml", ""); err != nil {
		t.Fatalf("reconcile --once: %v\n%s", err, out)
	}
	gittest.Run(t, work, "fetch", "--quiet", "origin")
	step2 := strings.Replace(branch, "/1-deploy", "/2-route", 1)
	if out, err := cli(commands["step-branch"], step2); err != nil || !strings.Contains(out, "is exactly step 2-route") {
		t.Errorf("step 2: %v\n%s", err, out)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
