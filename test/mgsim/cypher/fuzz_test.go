package cypher

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics and that:
//   - it returns exactly one of a statement and an error, and the error is a
//     *SyntaxError or a *SemanticError;
//   - a SyntaxError points inside the query (or just past its end);
//   - a parsed statement, printed by format, parses back to the same AST.
func FuzzParse(f *testing.F) {
	for _, tc := range validQueries {
		if len(tc.query) < 4096 {
			f.Add(tc.query)
		}
	}
	for _, tc := range invalidQueries {
		if len(tc.query) < 4096 {
			f.Add(tc.query)
		}
	}
	f.Fuzz(func(t *testing.T, query string) {
		st, err := Parse(query)
		if (st == nil) == (err == nil) {
			t.Fatalf("Parse(%q) = %#v, %v: want exactly one", query, st, err)
		}
		if err != nil {
			var synErr *SyntaxError
			var semErr *SemanticError
			switch {
			case errors.As(err, &synErr):
				checkPosition(t, query, synErr)
			case errors.As(err, &semErr):
				if semErr.Message == "" {
					t.Fatalf("Parse(%q): empty semantic error", query)
				}
			default:
				t.Fatalf("Parse(%q): error of type %T", query, err)
			}
			return
		}
		printed := format(st)
		again, err := Parse(printed)
		if err != nil {
			t.Fatalf("Parse(%q) = %#v\nprinted %q fails: %v", query, st, printed, err)
		}
		if !reflect.DeepEqual(again, st) {
			t.Fatalf("Parse(%q) = %#v\nprinted %q parses to %#v", query, st, printed, again)
		}
	})
}

// checkPosition checks that e's line and column lie within query: the line
// exists and the column is at most its length in code points.
func checkPosition(t *testing.T, query string, e *SyntaxError) {
	t.Helper()
	if len(query) > MaxQueryBytes {
		return
	}
	lines := strings.Split(query, "\n")
	if e.Line < 1 || e.Line > len(lines) {
		t.Fatalf("Parse(%q): error line %d outside 1..%d: %v", query, e.Line, len(lines), e)
	}
	line := lines[e.Line-1]
	n := utf8.RuneCountInString(line)
	if !utf8.ValidString(line) {
		n = len(line) // positions before the first bad byte count code points
	}
	if e.Column < 0 || e.Column > n {
		t.Fatalf("Parse(%q): error column %d outside 0..%d: %v", query, e.Column, n, e)
	}
	if e.Message == "" {
		t.Fatalf("Parse(%q): empty syntax error message", query)
	}
}
