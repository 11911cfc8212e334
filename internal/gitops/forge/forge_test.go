package forge

import "testing"

func TestParseBranch(t *testing.T) {
	tests := []struct {
		branch string
		want   StepBranch
		ok     bool
	}{
		{"gitmig/orc8r-edge-to-cloud-20260504-0900/1-deploy", StepBranch{ID: "orc8r-edge-to-cloud-20260504-0900", Step: 1, Name: "deploy"}, true},
		{"gitmig/orc8r-edge-to-cloud-20260504-0900/undo-3-flip", StepBranch{ID: "orc8r-edge-to-cloud-20260504-0900", Step: 3, Name: "flip", Undo: true}, true},
		{"gitmig/x/0-deploy", StepBranch{}, false},
		{"gitmig/x/12-deploy", StepBranch{}, false},
		{"gitmig/x/1-", StepBranch{}, false},
		{"gitmig/1-deploy", StepBranch{}, false},
		{"feature/x/1-deploy", StepBranch{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseBranch(tt.branch)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseBranch(%q) = %+v, %v; want %+v, %v", tt.branch, got, ok, tt.want, tt.ok)
		}
	}
	if b := Branch("m", 2, "route"); b != "gitmig/m/2-route" {
		t.Errorf("Branch = %q", b)
	}
	if b := UndoBranch("m", 2, "route"); b != "gitmig/m/undo-2-route" {
		t.Errorf("UndoBranch = %q", b)
	}
}
