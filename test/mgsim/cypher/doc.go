// Package cypher parses the queries the Memgraph emulator (test/mgsim)
// understands: Memgraph's replication and storage-information queries
// (reference/memgraph.md section 1) and a small subset of openCypher, enough
// to write, read and delete single nodes through the gateway. The query
// engine executes the AST of ast.go; this package only parses and runs the
// checks Memgraph makes before executing a query.
//
//	st, err := cypher.Parse(`REGISTER REPLICA r1 SYNC TO "10.0.0.2:10000"`)
//	// st == cypher.RegisterReplica{Name: "r1", Mode: "SYNC", Address: "10.0.0.2:10000"}
//
// Parse returns the concrete statement and expression types as values
// (cypher.Match, never *cypher.Match). Its errors are *SyntaxError, worded as
// Memgraph words ANTLR's errors ("Error on line 1 position 25. The underlying
// parsing error is mismatched input '-' expecting {ASYNC, STRICT_SYNC,
// SYNC}"), or *SemanticError, worded as Memgraph's semantic exceptions
// ("Unbound variable: x."). Both are ClientErrors in Bolt terms.
//
// # Grammar
//
// Keywords are case-insensitive and are not reserved: wherever a name is
// expected any word is accepted. White space and comments may appear between
// any two tokens.
//
//	query        = statement [ ";" ] EOF .
//	statement    = "SHOW" "REPLICATION" "ROLE"
//	             | "SET" "REPLICATION" "ROLE" "TO" ( "MAIN" | "REPLICA" [ "WITH" "PORT" integer ] )
//	             | "REGISTER" "REPLICA" name ( "SYNC" | "ASYNC" | "STRICT_SYNC" ) "TO" string
//	             | "DROP" "REPLICA" name
//	             | "SHOW" "REPLICAS"
//	             | "SHOW" "STORAGE" "INFO" [ "ON" "CURRENT" "DATABASE" ]
//	             | "RETURN" items
//	             | "CREATE" "(" [ name ] { ":" name } [ map ] ")" [ "RETURN" items ]
//	             | "MATCH" "(" name [ ":" name ] ")" [ "WHERE" name "." name "=" expr ]
//	               ( "RETURN" items | [ "DETACH" ] "DELETE" name ) .
//	items        = item { "," item } .
//	item         = expr [ "AS" name ] .
//	expr         = { "+" | "-" } ( integer | float )
//	             | string | "TRUE" | "FALSE" | "NULL"
//	             | "$" ( name | integer )
//	             | name [ "." name ]
//	             | "COUNT" "(" ( "*" | name ) ")"
//	             | "[" [ expr { "," expr } ] "]"
//	             | map
//	             | "(" expr ")" .
//	map          = "{" [ name ":" expr { "," name ":" expr } ] "}" .
//
//	name         = word | "`" { any code point but "`" | "``" } "`" .   (not empty)
//	word         = ( letter | "_" ) { letter | digit | "_" } .              (ASCII letters)
//	integer      = "0" | "1"…"9" { digit } .                                 (must fit int64)
//	float        = digits "." digits [ exponent ] | "." digits [ exponent ] | digits exponent .
//	exponent     = ( "e" | "E" ) [ "+" | "-" ] digits .
//	string       = "'" { char | escape } "'" | `"` { char | escape } `"` .
//	escape       = `\` ( `\` | "'" | `"` | "b" | "f" | "n" | "r" | "t" ) (letters in either case)
//	             | `\u` hex hex hex hex | `\U` hex hex hex hex hex hex hex hex .
//	comment      = "//" { any but line feed } | "/*" { any } "*/" .
//
// Unary signs apply to number literals only and are folded into them, so
// -9223372036854775808 is an int64 literal. A high surrogate escape must be
// followed by a \u low surrogate; the pair is one code point.
//
// The AST normalises what Memgraph treats alike: Create.Labels, Create.Props
// and Create.Items are nil when absent (an empty property map is absent);
// list and map literals have non-nil, possibly empty, slices; parentheses
// around an expression leave no node; count(`*`) is count(*).
//
// # Column names
//
// A RETURN item's column is its alias, or else its expression's source text
// from the first token to the last, exactly as written ("count ( n )",
// "n.k", "-1", "'a'"), which is how Memgraph names unaliased columns.
//
// # Checks
//
// After parsing, as Memgraph does before planning: integer literals out of
// int64 range ("Integer literal exceeds 64 bits."), float overflow
// ("Couldn't parse string to double."), invalid \u/\U code points ("Invalid
// UTF codepoint."), duplicate map keys ("Same key can't appear twice in a map
// literal."), variables used but not bound by the pattern ("Unbound variable:
// x."), count outside RETURN ("Aggregation functions are only allowed in WITH
// and RETURN.") and two columns with one name ("Multiple results with the
// same name 'x' are not allowed."). A syntax error anywhere in the query wins
// over these.
//
// Input is bounded: queries over MaxQueryBytes and nesting of lists, maps and
// parentheses deeper than MaxNesting are SyntaxErrors. Parsing never
// backtracks and takes time linear in the query.
//
// # Deviations from Memgraph
//
//   - Only the subset above is understood. Every other query, valid Cypher or
//     not, is a *SyntaxError, and expected-token sets list the subset's tokens
//     only, so they are shorter than ANTLR's (for example Memgraph before 3.5
//     printed {ASYNC, SYNC}). Which of ANTLR's message forms is used follows
//     ANTLR's rules (extraneous when dropping one token would help, missing
//     when inserting one would, no viable alternative after a statement's
//     first word when no form fits) but will not always agree with ANTLR.
//   - Lexical errors (an unknown character, an unterminated string, comment
//     or escaped name, a bad escape) are reported where they occur as
//     "token recognition error at: '...'", quoting at most 32 code points.
//     Memgraph's lexer logs such errors, skips the character and lets the
//     parser fail later, or even succeed.
//   - Unescaped names are ASCII; Memgraph also accepts Unicode letters. The
//     empty escaped name (two backticks) is refused. Keywords are accepted as names
//     everywhere; Memgraph reserves some.
//   - Integers are decimal only. Hexadecimal and octal literals are refused,
//     including 017, which Memgraph reads as octal 15. \U followed by only 4
//     hex digits is a lexical error; Memgraph reports it without a position.
//   - WITH PORT takes an integer literal and REGISTER REPLICA's address a
//     string literal; Memgraph accepts any literal there and fails at run
//     time ("Port number invalid!", "Invalid socket address...").
//   - SHOW STORAGE INFO ON DATABASE <name> (Memgraph 3.10+) is refused; ON
//     CURRENT DATABASE (3.11+) is parsed in every release and the engine
//     refuses it before 3.11. The end-of-query set after SHOW STORAGE INFO
//     does not list ON.
//   - MATCH needs a variable: MATCH (:L) is refused.
//   - In CREATE (n {k: n.x}) the node's own variable is unbound inside its
//     property map ("Unbound variable: n."); Memgraph binds it and reads null.
//   - Invalid UTF-8 is refused. When one map literal holds several semantic
//     errors the first in source order is reported; Memgraph's order follows
//     a hash map.
package cypher
