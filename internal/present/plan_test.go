package present

import (
	"strings"
	"testing"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/decide"
)

// The plan says, under each move, how clients will reach the service and how it will
// reach what it calls, with the latency or the lack of one.
func TestPlanShowsPaths(t *testing.T) {
	ms := 15.0
	p := decide.Plan{Decisions: []decide.Decision{{
		Service: "loadgen", Namespace: "l", From: "edge", To: "fog", Reason: "by hand",
		Clients: []decide.ClientPath{{Client: "ui", Cluster: "fog", Path: []string{"fog"}, LatencyMS: new(float64)}},
		Calls:   []decide.ClientPath{{Service: "orc8r", Client: "loadgen", Cluster: "fog", Path: []string{"fog", "cloud"}, LatencyMS: &ms}, {Service: "db", Client: "loadgen", Cluster: "fog", Path: []string{"fog", "edge"}}},
	}}}
	var table strings.Builder
	if err := PlanTable(&table, p); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"CLIENT  ui@fog (local, 0ms)\n",
		"CALLS   orc8r: loadgen@fog → cloud (1 hop, 15ms)\n",
		"CALLS   db: loadgen@fog → edge (1 hop, latency not in gitmig.yaml)\n",
	} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var md strings.Builder
	if err := PlanMarkdown(&md, p, nil, config.DefaultPolicy()); err != nil {
		t.Fatal(err)
	}
	if want := "It will reach what it calls:\n\n- orc8r: loadgen@fog → cloud (1 hop, 15ms)\n- db: loadgen@fog → edge (1 hop, latency not in gitmig.yaml)\n"; !strings.Contains(md.String(), want) {
		t.Errorf("markdown lacks %q:\n%s", want, md.String())
	}
}
