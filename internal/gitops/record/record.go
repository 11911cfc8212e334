// Package record reads and writes migration records, migrations/<id>.yaml: what was
// decided and why, which step is on the base branch, and how the migration ended.
package record

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/step"
)

// Dir holds the records, relative to the repository root.
const Dir = "migrations"

// APIVersion and Kind identify a record.
const (
	APIVersion = "gitmig.dev/v1alpha1"
	Kind       = "Migration"
)

// Phase is where a migration stands.
type Phase string

// Phases of a migration. InProgress from the decision until step 4's gate passes.
const (
	InProgress Phase = "InProgress"
	Completed  Phase = "Completed"
	Aborted    Phase = "Aborted"
	RolledBack Phase = "RolledBack"
)

// Ended reports whether the phase is final.
func (p Phase) Ended() bool { return p == Completed || p == Aborted || p == RolledBack }

// Record is one migration.
type Record struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`
	Status     Status   `json:"status"`
}

// Metadata names the record; the name is the migration id.
type Metadata struct {
	Name string `json:"name"`
}

// Spec is what was decided.
type Spec struct {
	Service   string    `json:"service"`
	Namespace string    `json:"namespace"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	DecidedAt time.Time `json:"decidedAt"`
	// DecidedBy says whether the plan or a person (gitmig migrate) started it.
	DecidedBy string `json:"decidedBy"`
	Reason    string `json:"reason"`
	// Evidence is the plan's Markdown evidence block: utilisation, PromQL, candidates.
	Evidence string `json:"evidence,omitempty"`
	// PolicyOverridden lists what policy refused about a migration started by hand
	// with --force.
	PolicyOverridden []string `json:"policyOverridden,omitempty"`
}

// Equal reports whether two specs are the same decision.
func (s Spec) Equal(o Spec) bool {
	return s.Service == o.Service && s.Namespace == o.Namespace && s.From == o.From && s.To == o.To &&
		s.DecidedAt.Equal(o.DecidedAt) && s.DecidedBy == o.DecidedBy && s.Reason == o.Reason &&
		s.Evidence == o.Evidence && slices.Equal(s.PolicyOverridden, o.PolicyOverridden)
}

// Status is how far the migration went.
type Status struct {
	Phase Phase `json:"phase"`
	// Step is the last step whose commit carries this record: on the base branch, the
	// last merged step; 0 when only decided.
	Step int `json:"step"`
	// PullRequests are the step pull requests known when this record was written.
	PullRequests []PullRequestRef `json:"pullRequests,omitempty"`
	// Message says why the migration ended, for Aborted and RolledBack.
	Message string    `json:"message,omitempty"`
	EndedAt time.Time `json:"endedAt,omitzero"`
	// Rollback is set from the first rollback commit on: Step then counts down as the
	// merged steps are undone, in reverse order.
	Rollback *Rollback `json:"rollback,omitempty"`
}

// Rollback says why a migration is being rolled back.
type Rollback struct {
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	// FromStep is the last step that was merged when the rollback began.
	FromStep int `json:"fromStep"`
}

// PullRequestRef points at one step's pull request.
type PullRequestRef struct {
	Step   int    `json:"step"`
	Number int    `json:"number"`
	URL    string `json:"url"`
}

// ID is the migration id.
func (r *Record) ID() string { return r.Metadata.Name }

// Path is the record's file in the repository.
func Path(id string) string { return path.Join(Dir, id+".yaml") }

// New returns the record of a migration just decided.
func New(id string, spec Spec) *Record {
	return &Record{
		APIVersion: APIVersion,
		Kind:       Kind,
		Metadata:   Metadata{Name: id},
		Spec:       spec,
		Status:     Status{Phase: InProgress},
	}
}

// SetPullRequest records a step's pull request, replacing an earlier one for that step.
func (r *Record) SetPullRequest(ref PullRequestRef) {
	for i, p := range r.Status.PullRequests {
		if p.Step == ref.Step {
			r.Status.PullRequests[i] = ref
			return
		}
	}
	r.Status.PullRequests = append(r.Status.PullRequests, ref)
	sort.Slice(r.Status.PullRequests, func(i, j int) bool { return r.Status.PullRequests[i].Step < r.Status.PullRequests[j].Step })
}

// Marshal encodes the record as YAML.
func (r *Record) Marshal() ([]byte, error) {
	return yaml.Marshal(r)
}

// Parse decodes and checks one record.
func Parse(data []byte) (*Record, error) {
	var r Record
	if err := yaml.UnmarshalStrict(data, &r); err != nil {
		// The decoder's own layers of wrapping say nothing to a reader of the record.
		msg := err.Error()
		for _, layer := range []string{"error unmarshaling JSON: ", "while decoding JSON: ", "json: "} {
			msg = strings.ReplaceAll(msg, layer, "")
		}
		return nil, errors.New(msg)
	}
	if r.APIVersion != APIVersion || r.Kind != Kind {
		return nil, fmt.Errorf("not a %s %s (apiVersion %q, kind %q)", APIVersion, Kind, r.APIVersion, r.Kind)
	}
	if r.Metadata.Name == "" || r.Spec.Service == "" || r.Spec.From == "" || r.Spec.To == "" {
		return nil, errors.New("metadata.name, spec.service, spec.from and spec.to are required")
	}
	if !step.ValidID(r.Metadata.Name) {
		return nil, fmt.Errorf("metadata.name %q is not a migration id (lowercase letters, digits and dashes)", r.Metadata.Name)
	}
	if r.Status.Step < 0 || r.Status.Step > step.Count {
		return nil, fmt.Errorf("status.step %d is not 0-%d", r.Status.Step, step.Count)
	}
	return &r, nil
}

// Invalid is a record file gitmig cannot use, and why. It is shown, and holds no slot
// of policy.maxConcurrent.
type Invalid struct {
	File    string `json:"file"`
	Problem string `json:"problem"`
}

// Validate checks a record against gitmig.yaml: its service and clusters exist, its id
// names them, and its phase is one gitmig writes.
func (r *Record) Validate(cfg *config.Config) error {
	var problems []string
	switch r.Status.Phase {
	case InProgress, Completed, Aborted, RolledBack:
	default:
		problems = append(problems, fmt.Sprintf("status.phase %q is not InProgress, Completed, Aborted or RolledBack", r.Status.Phase))
	}
	if svc, ok := cfg.Service(r.Spec.Service); !ok {
		problems = append(problems, fmt.Sprintf("spec.service %q is not in gitmig.yaml's services", r.Spec.Service))
	} else if r.Spec.Namespace != "" && r.Spec.Namespace != svc.Namespace {
		problems = append(problems, fmt.Sprintf("spec.namespace %q is not %s's namespace %s", r.Spec.Namespace, svc.Name, svc.Namespace))
	}
	for field, cluster := range map[string]string{"spec.from": r.Spec.From, "spec.to": r.Spec.To} {
		if _, ok := cfg.Cluster(cluster); !ok {
			problems = append(problems, fmt.Sprintf("%s %q is not in gitmig.yaml's clusters", field, cluster))
		}
	}
	if r.Spec.From == r.Spec.To {
		problems = append(problems, "spec.from and spec.to are both "+r.Spec.From)
	}
	if prefix := r.Spec.Service + "-" + r.Spec.From + "-to-" + r.Spec.To + "-"; !strings.HasPrefix(r.ID(), prefix) {
		problems = append(problems, fmt.Sprintf("metadata.name %q does not start with %s", r.ID(), prefix))
	}
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	return errors.New(strings.Join(problems, "; "))
}

// LoadAll reads every record under Dir in fsys, sorted by id, and checks each against
// cfg. A record that does not parse or does not fit gitmig.yaml is returned among the
// invalid ones, by its file: gitmig never guesses at a migration's state, and one bad
// file does not stop the others. The error is for a folder that cannot be read.
func LoadAll(fsys fs.FS, cfg *config.Config) ([]*Record, []Invalid, error) {
	entries, err := fs.ReadDir(fsys, Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var records []*Record
	var invalid []Invalid
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		p := path.Join(Dir, e.Name())
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, nil, err
		}
		r, err := Parse(data)
		switch {
		case err != nil:
		case r.ID()+".yaml" != e.Name():
			err = fmt.Errorf("metadata.name %q does not match the file name", r.ID())
		default:
			err = r.Validate(cfg)
		}
		if err != nil {
			invalid = append(invalid, Invalid{File: p, Problem: err.Error()})
			continue
		}
		records = append(records, r)
	}
	sort.Slice(records, func(i, j int) bool { return records[i].ID() < records[j].ID() })
	return records, invalid, nil
}
