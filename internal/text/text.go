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
	s = strings.NewReplacer("|", `\|`, "<", "&lt;").Replace(OneLine(Printable(s)))
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

// Printable drops what a terminal would act on rather than show: escape sequences
// (ESC and the CSI, OSC and other sequences it starts) and every other control
// character, tabs and line breaks included, so that a title written by anyone can
// neither rewrite the screen nor break a table's row.
func Printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == 0x1b:
			i += escapeLength(s[i:])
			continue
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError && size == 1:
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// escapeLength is the length of the escape sequence at the start of s: ESC [ ...
// final byte (CSI), ESC ] ... BEL or ESC \ (OSC), or ESC and one byte.
func escapeLength(s string) int {
	if len(s) < 2 {
		return len(s)
	}
	switch s[1] {
	case '[':
		for i := 2; i < len(s); i++ {
			if s[i] >= 0x40 && s[i] <= 0x7e {
				return i + 1
			}
		}
		return len(s)
	case ']', 'P', '_', '^':
		for i := 2; i < len(s); i++ {
			if s[i] == 0x07 {
				return i + 1
			}
			if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
		}
		return len(s)
	}
	return 2
}
