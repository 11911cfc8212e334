package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncateKeepsWholeCharacters(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"a longer line", 6, "a lon…"},
		{"édgé → clöud", 7, "édgé →…"},
		{"日本語のテキスト", 4, "日本語…"},
		{"anything", 0, ""},
	} {
		got := Truncate(tt.in, tt.n)
		if got != tt.want || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestCell(t *testing.T) {
	if got := Cell("a | b\n<script>\r\n c"); got != `a \| b &lt;script> c` {
		t.Errorf("Cell = %q", got)
	}
	if got := Cell(" \n"); got != "-" {
		t.Errorf("empty Cell = %q", got)
	}
}

func TestTable(t *testing.T) {
	var b strings.Builder
	Table(&b, []string{"A", "B"}, func(row func(...string)) {
		row("1", "x|y")
		row("", "2")
	})
	want := "| A | B |\n|---|---|\n| 1 | x\\|y |\n| - | 2 |\n\n"
	if b.String() != want {
		t.Errorf("Table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestPrintableDropsWhatATerminalWouldAct(t *testing.T) {
	for in, want := range map[string]string{
		"gitmig: move orc8r edge→cloud [1/4 deploy]":           "gitmig: move orc8r edge→cloud [1/4 deploy]",
		"\x1b[2J\x1b[1;1Hfake prompt$ ":                        "fake prompt$ ",
		"title\x1b]0;pwned\x07 and \x1b]8;;http://x\x1b\\link": "title and link",
		"bell\x07 back\x08space\x00nul\u009b31mC1":             "bell backspacenul31mC1",
		"two\nlines\tand\rtab":                                 "two lines and tab",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}
