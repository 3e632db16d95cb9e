package cypher

import (
	"fmt"
	"strings"
)

// SyntaxError is a query that does not parse, or that lies outside the subset
// the emulator understands. Its Error text has Memgraph's wording:
//
//	Error on line 1 position 25. The underlying parsing error is mismatched input '-' expecting {ASYNC, STRICT_SYNC, SYNC}
//
// and, when Message is a "no viable alternative" error, Memgraph's longer
// variant that names the offending token:
//
//	Error on line 1 position 6 with the FOO token. The underlying parsing error is no viable alternative at input 'SHOWFOO'. Take a look at clauses around and try to fix the query.
type SyntaxError struct {
	// Line is the 1-based line of the offending token.
	Line int
	// Column is the 0-based position of the offending token in its line,
	// counted in Unicode code points (ANTLR's charPositionInLine). Error
	// prints Column+1, as Memgraph does.
	Column int
	// Message is the ANTLR-style description: "mismatched input 'X'
	// expecting Y", "extraneous input 'X' expecting Y", "missing Y at 'X'",
	// "no viable alternative at input 'X'" or "token recognition error at:
	// 'X'". Expected-token sets list what this parser accepts, which is
	// smaller than what Memgraph's grammar would list.
	Message string
	// Token is the offending token as written, or "<EOF>" at the end of the
	// input. It is empty for errors not tied to a token (the size limit).
	Token string
}

func (e *SyntaxError) Error() string {
	if strings.HasPrefix(e.Message, "no viable alternative") {
		return fmt.Sprintf("Error on line %d position %d with the %s token. The underlying parsing error is %s. Take a look at clauses around and try to fix the query.",
			e.Line, e.Column+1, e.Token, e.Message)
	}
	return fmt.Sprintf("Error on line %d position %d. The underlying parsing error is %s", e.Line, e.Column+1, e.Message)
}

// SemanticError is a query that parses but that Memgraph rejects while
// building or checking its AST, before running anything: "Unbound variable:
// x.", "Integer literal exceeds 64 bits.", and so on. Error returns Message
// alone, as Memgraph sends it.
type SemanticError struct {
	Message string
}

func (e *SemanticError) Error() string { return e.Message }

// Messages of the semantic errors, exactly as Memgraph words them.
const (
	msgIntRange      = "Integer literal exceeds 64 bits."
	msgFloatRange    = "Couldn't parse string to double."
	msgCodepoint     = "Invalid UTF codepoint."
	msgDuplicateKey  = "Same key can't appear twice in a map literal."
	msgAggregation   = "Aggregation functions are only allowed in WITH and RETURN."
	msgUnboundFormat = "Unbound variable: %s."
	msgDupColumnFmt  = "Multiple results with the same name '%s' are not allowed."
)
