package step

import "testing"

func TestParseBranch(t *testing.T) {
	id := "orc8r-edge-to-cloud-20260504-0900"
	tests := []struct {
		branch string
		want   Branch
		ok     bool
	}{
		{"gitmig/" + id + "/1-deploy", Branch{ID: id, Step: Deploy}, true},
		{"gitmig/" + id + "/undo-3-flip", Branch{ID: id, Step: Flip, Undo: true}, true},
		{"gitmig/x/0-deploy", Branch{}, false},
		{"gitmig/x/5-step5", Branch{}, false},
		{"gitmig/x/12-deploy", Branch{}, false},
		{"gitmig/x/1-", Branch{}, false},
		// The number and the name must agree: a branch gitmig never names is not its own.
		{"gitmig/x/2-deploy", Branch{}, false},
		{"gitmig/1-deploy", Branch{}, false},
		{"feature/x/1-deploy", Branch{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseBranch(tt.branch)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseBranch(%q) = %+v, %v; want %+v, %v", tt.branch, got, ok, tt.want, tt.ok)
		}
	}
	if b := BranchOf("m", Route); b != "gitmig/m/2-route" {
		t.Errorf("BranchOf = %q", b)
	}
	if b := UndoBranchOf("m", Route); b != "gitmig/m/undo-2-route" {
		t.Errorf("UndoBranchOf = %q", b)
	}
	for _, s := range All() {
		if b, ok := ParseBranch(BranchOf("m", s)); !ok || b.Step != s {
			t.Errorf("ParseBranch(BranchOf(%s)) = %+v, %v", s, b, ok)
		}
	}
}

func TestVocabulary(t *testing.T) {
	if len(All()) != Count || All()[Count-1] != Cleanup || !Cleanup.Last() || Flip.Last() {
		t.Errorf("All() = %v, Count = %d", All(), Count)
	}
	if Deploy.String() != "1-deploy" || Cleanup.Of() != "4/4" {
		t.Errorf("Deploy.String() = %q, Cleanup.Of() = %q", Deploy.String(), Cleanup.Of())
	}
	if Route.Cluster("a", "b") != "b" || Flip.Cluster("a", "b") != "a" {
		t.Error("deploy and route edit the destination, flip and cleanup the source")
	}
	for _, s := range All() {
		if got, ok := ByName(s.Name()); !ok || got != s {
			t.Errorf("ByName(%q) = %v, %v", s.Name(), got, ok)
		}
	}
	if Step(5).Valid() || Step(0).Valid() {
		t.Error("only 1 to 4 are steps")
	}
}
