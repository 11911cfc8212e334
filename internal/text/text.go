// Package text shapes strings for where people read them: cut to a length without
// splitting a character, folded onto one line, or made safe inside a Markdown table.
// Every presenter, pull request body and status description of gitmig goes through it.
package text

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Truncate cuts s to at most n characters (runes), ending a cut string with "…".
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// OneLine folds every run of whitespace, newlines included, into one space.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Cell makes s safe inside a Markdown table cell: on one line, with a pipe (which
// would end the cell) escaped and "<" (which could open an HTML tag) written as an
// entity. An empty cell reads "-".
func Cell(s string) string {
	s = strings.NewReplacer("|", `\|`, "<", "&lt;").Replace(OneLine(s))
	if s == "" {
		return "-"
	}
	return s
}

// Table writes a Markdown table: the header, then one row per call of row, each cell
// through Cell.
func Table(b *strings.Builder, header []string, rows func(row func(cells ...string))) {
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + Cell(c) + " |")
		}
		b.WriteString("\n")
	}
	line(header)
	b.WriteString("|" + strings.Repeat("---|", len(header)) + "\n")
	rows(func(cells ...string) { line(cells) })
	b.WriteString("\n")
}

// Cores formats a quantity of cpu with two decimals, as a person compares it with
// Kubernetes requests.
func Cores(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// Bytes formats a quantity of memory in binary units: Gi, Mi or bytes.
func Bytes(v float64) string {
	const gi, mi = 1 << 30, 1 << 20
	switch {
	case math.Abs(v) >= gi:
		return strconv.FormatFloat(v/gi, 'f', 2, 64) + "Gi"
	case math.Abs(v) >= mi:
		return strconv.FormatFloat(v/mi, 'f', 1, 64) + "Mi"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + "B"
}

// Ratio formats a fraction such as a utilisation with two decimals.
func Ratio(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
