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
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// parseDockerfile splits a Dockerfile into instructions, dropping comments and joining
// lines that end in a backslash.
func parseDockerfile(text string) []instruction {
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if body, cont := strings.CutSuffix(trimmed, `\`); cont {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

var (
	// taggedImage is an image with a version tag or a digest.
	taggedImage = regexp.MustCompile(`^[\w./-]+(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$`)
	urlSource   = regexp.MustCompile(`(?i)\bhttps?://`)
)

// dockerfileProblems lints the essentials of gitmig's image: every base image pinned to
// a tag other than latest, a distroless or scratch final stage, a numeric non-root
// USER there, the binary built by hack/release/build.sh (static, stamped), and no ADD
// of a URL.
func dockerfileProblems(text string) []string {
	var problems []string
	type stage struct {
		image, name string
		user        string
		builds      bool
	}
	var stages []*stage
	for _, in := range parseDockerfile(text) {
		where := fmt.Sprintf("line %d: %s", in.line, in.cmd)
		if in.cmd == "FROM" {
			fields := strings.Fields(in.args)
			fields = slices.DeleteFunc(fields, func(f string) bool { return strings.HasPrefix(f, "--platform=") })
			s := &stage{}
			if len(fields) > 0 {
				s.image = fields[0]
			}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				s.name = fields[2]
			}
			stages = append(stages, s)
			_, tag, hasTag := strings.Cut(s.image, ":")
			switch {
			case s.image == "scratch":
			case !taggedImage.MatchString(s.image) || (!hasTag && !strings.Contains(s.image, "@")):
				problems = append(problems, fmt.Sprintf("%s %s: pin the base image to a version tag or digest", where, s.image))
			case strings.HasPrefix(tag, "latest"):
				problems = append(problems, fmt.Sprintf("%s %s: latest is not a pin", where, s.image))
			}
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				problems = append(problems, fmt.Sprintf("%s before any FROM", where))
			}
			continue
		}
		cur := stages[len(stages)-1]
		switch in.cmd {
		case "ADD":
			if urlSource.MatchString(in.args) {
				problems = append(problems, fmt.Sprintf("%s %s: fetches from the network unverified; download and check it in a RUN", where, in.args))
			}
		case "USER":
			cur.user = in.args
		case "RUN":
			if strings.Contains(in.args, "hack/release/build.sh binary") {
				cur.builds = true
			}
		}
	}
	if len(stages) == 0 {
		return append(problems, "no FROM")
	}
	final := stages[len(stages)-1]
	if final.image != "scratch" && !strings.HasPrefix(final.image, "gcr.io/distroless/static") {
		problems = append(problems, fmt.Sprintf("the final stage is %s: want gcr.io/distroless/static or scratch, for a static binary and nothing else", final.image))
	}
	uid, _, _ := strings.Cut(final.user, ":")
	if uid == "" || uid == "0" || !regexp.MustCompile(`^[0-9]+$`).MatchString(uid) {
		problems = append(problems, fmt.Sprintf("the final stage runs as user %q: want a numeric non-root USER, such as 65532", final.user))
	}
	if !slices.ContainsFunc(stages[:len(stages)-1], func(s *stage) bool { return s.builds }) {
		problems = append(problems, "no build stage runs hack/release/build.sh binary: the image's binary would not be the release build")
	}
	return problems
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, p := range dockerfileProblems(text) {
		t.Error("Dockerfile:", p)
	}

	// The builder's Go is at least go.mod's.
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	needs := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	builder := regexp.MustCompile(`(?m)^FROM .*golang:(\d+\.\d+\.\d+)`).FindStringSubmatch(text)
	if needs == nil || builder == nil {
		t.Fatalf("no go directive in go.mod (%q) or no golang:X.Y.Z builder stage (%q)", needs, builder)
	}
	if !goVersionLess("1.25.9", "1.26") || goVersionLess("1.26.8", "1.26") || goVersionLess("1.26.0", "1.26") {
		t.Fatal("goVersionLess is wrong")
	}
	if goVersionLess(builder[1], string(needs[1])) {
		t.Errorf("the builder has Go %s, go.mod needs %s", builder[1], needs[1])
	}

	// The release workflow passes every build argument the Dockerfile stamps.
	args := regexp.MustCompile(`\b(VERSION|COMMIT|DATE)=`).FindAllStringSubmatch(str(lookup(load(t, "release.yml").step(t, "docker/build-push-action@"), "with", "build-args")), -1)
	if len(args) != 3 {
		t.Errorf("the image build passes %v, want VERSION, COMMIT and DATE", args)
	}

	// The lint rejects what it is for.
	good := "FROM --platform=$BUILDPLATFORM golang:1.26.0 AS build\nRUN hack/release/build.sh binary /out/gitmig\nFROM gcr.io/distroless/static-debian12:nonroot\nUSER 65532:65532\n"
	if p := dockerfileProblems(good); len(p) != 0 {
		t.Fatalf("dockerfileProblems rejects a good Dockerfile: %v", p)
	}
	for name, bad := range map[string]string{
		"untagged builder":  strings.Replace(good, "golang:1.26.0", "golang", 1),
		"latest builder":    strings.Replace(good, "golang:1.26.0", "golang:latest", 1),
		"root user":         strings.Replace(good, "USER 65532:65532", "USER root", 1),
		"uid 0":             strings.Replace(good, "USER 65532:65532", "USER 0", 1),
		"no user":           strings.Replace(good, "USER 65532:65532\n", "", 1),
		"debian final":      strings.Replace(good, "gcr.io/distroless/static-debian12:nonroot", "debian:12", 1),
		"ADD of a URL":      good + "ADD https://example.com/tool /usr/local/bin/tool\n",
		"go build directly": strings.Replace(good, "hack/release/build.sh binary /out/gitmig", "go build -o /out/gitmig ./cmd/gitmig", 1),
		"continued user":    strings.Replace(good, "USER 65532:65532", "USER \\\n  root", 1),
	} {
		if len(dockerfileProblems(bad)) == 0 {
			t.Errorf("dockerfileProblems accepts a Dockerfile with %s", name)
		}
	}
}

// goVersionLess compares Go release versions such as 1.26 and 1.26.8.
func goVersionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// The release builds every target the action can install, through build.sh, and the
// release job checksums what the matrix built.
func TestReleaseWorkflow(t *testing.T) {
	wf := load(t, "release.yml")
	if got := slices.Sorted(maps.Keys(wf.triggers())); !slices.Equal(got, []string{"push"}) {
		t.Errorf("release.yml triggers on %v, want push of tags", got)
	}
	if tags, _ := lookup(wf.triggers(), "push", "tags").([]any); !slices.Equal(tags, []any{"v*"}) {
		t.Errorf("release.yml runs for tags %v, want [v*]", tags)
	}
	if perms, ok := wf["permissions"].(map[string]any); !ok || len(perms) != 0 {
		t.Errorf("release.yml's top-level permissions are %v, want {} (each job asks for its own)", wf["permissions"])
	}
	jobs := wf.jobs()
	want := map[string]map[string]any{
		"archives": {"contents": "read"},
		"release":  {"contents": "write"},
		"image":    {"contents": "read", "packages": "write"},
	}
	if got := slices.Sorted(maps.Keys(jobs)); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("jobs %v, want %v", got, slices.Sorted(maps.Keys(want)))
	}
	for name, perms := range want {
		if got, _ := jobs[name]["permissions"].(map[string]any); !maps.Equal(got, perms) {
			t.Errorf("job %s has permissions %v, want %v", name, got, perms)
		}
	}
	matrix := lookup(jobs["archives"], "strategy", "matrix")
	var targets []string
	for _, os := range lookup(matrix, "os").([]any) {
		for _, arch := range lookup(matrix, "arch").([]any) {
			targets = append(targets, fmt.Sprint(os, "/", arch))
		}
	}
	slices.Sort(targets)
	if want := []string{"darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"}; !slices.Equal(targets, want) {
		t.Errorf("the archives matrix builds %v, want %v", targets, want)
	}
	if run := str(wf.step(t, "build.sh archives")["run"]); !strings.Contains(run, `"$TARGET"`) {
		t.Errorf("the archive step does not build its matrix target: %s", run)
	}
	wf.step(t, "build.sh checksums")
	image := wf.step(t, "docker/build-push-action@")
	if got := str(lookup(image, "with", "platforms")); got != "linux/amd64,linux/arm64" {
		t.Errorf("the image is built for %q", got)
	}
}
