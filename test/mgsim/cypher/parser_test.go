package cypher

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func port(p int64) *int64 { return &p }

func lit(v any) Literal { return Literal{Value: v} }

func item(e Expr, name string) ReturnItem { return ReturnItem{Expr: e, Name: name} }

func ret(items ...ReturnItem) Return { return Return{Items: items} }

var validQueries = []struct {
	name  string
	query string
	want  Statement
}{
	// Replication and information queries.
	{"show role", "SHOW REPLICATION ROLE;", ShowReplicationRole{}},
	{"show role lower case", "show replication role", ShowReplicationRole{}},
	{"show role mixed case and space", "  Show\tREPLICATION\n\trOlE  ;  ", ShowReplicationRole{}},
	{"show role comments", "/* a */ SHOW // b\nREPLICATION /* c\n d */ ROLE; // e", ShowReplicationRole{}},
	{"set main", "SET REPLICATION ROLE TO MAIN;", SetReplicationRole{ToMain: true}},
	{"set main lower", "set replication role to main", SetReplicationRole{ToMain: true}},
	{"set replica no port", "SET REPLICATION ROLE TO REPLICA", SetReplicationRole{}},
	{"set replica port", "SET REPLICATION ROLE TO REPLICA WITH PORT 10000;", SetReplicationRole{Port: port(10000)}},
	{"set replica port zero", "set replication role to replica with port 0", SetReplicationRole{Port: port(0)}},
	{"set replica port out of uint16 kept", "SET REPLICATION ROLE TO REPLICA WITH PORT 70000", SetReplicationRole{Port: port(70000)}},
	{"register sync", `REGISTER REPLICA replica1 SYNC TO "127.0.0.1:10000";`,
		RegisterReplica{Name: "replica1", Mode: "SYNC", Address: "127.0.0.1:10000"}},
	{"register async single quotes", `register replica r_2 async to '10.0.0.2'`,
		RegisterReplica{Name: "r_2", Mode: "ASYNC", Address: "10.0.0.2"}},
	{"register strict_sync mixed case", `Register Replica R3 Strict_Sync To "h:1"`,
		RegisterReplica{Name: "R3", Mode: "STRICT_SYNC", Address: "h:1"}},
	{"register escaped name", "REGISTER REPLICA `replica-1` SYNC TO \"memgraph-1.memgraph:10000\"",
		RegisterReplica{Name: "replica-1", Mode: "SYNC", Address: "memgraph-1.memgraph:10000"}},
	{"register escaped backtick", "REGISTER REPLICA `a``b` ASYNC TO 'x'",
		RegisterReplica{Name: "a`b", Mode: "ASYNC", Address: "x"}},
	{"register keyword as name", `REGISTER REPLICA replica SYNC TO "x"`,
		RegisterReplica{Name: "replica", Mode: "SYNC", Address: "x"}},
	{"register address escapes", `REGISTER REPLICA r SYNC TO "a\"b\\c"`,
		RegisterReplica{Name: "r", Mode: "SYNC", Address: `a"b\c`}},
	{"drop", "DROP REPLICA replica1;", DropReplica{Name: "replica1"}},
	{"drop escaped", "drop replica `replica-1`", DropReplica{Name: "replica-1"}},
	{"show replicas", "SHOW REPLICAS;", ShowReplicas{}},
	{"show replicas lower", "show replicas", ShowReplicas{}},
	{"show storage info", "SHOW STORAGE INFO;", ShowStorageInfo{}},
	{"show storage info lower", "show storage info", ShowStorageInfo{}},
	{"show storage info on current database", "SHOW STORAGE INFO ON CURRENT DATABASE;", ShowStorageInfo{OnCurrentDatabase: true}},
	{"show storage info on current database lower", "show storage info on current database", ShowStorageInfo{OnCurrentDatabase: true}},

	// RETURN and its literals; Name is the source text.
	{"return int", "RETURN 1", ret(item(lit(int64(1)), "1"))},
	{"return alias", "RETURN 1 AS x;", ret(item(lit(int64(1)), "x"))},
	{"return alias escaped", "return 1 as `my col`", ret(item(lit(int64(1)), "my col"))},
	{"return max and min int", "RETURN 9223372036854775807, -9223372036854775808", ret(
		item(lit(int64(math.MaxInt64)), "9223372036854775807"),
		item(lit(int64(math.MinInt64)), "-9223372036854775808"))},
	{"return signs", "RETURN -1, +2, - 3, --4, -+-5", ret(
		item(lit(int64(-1)), "-1"),
		item(lit(int64(2)), "+2"),
		item(lit(int64(-3)), "- 3"),
		item(lit(int64(4)), "--4"),
		item(lit(int64(5)), "-+-5"))},
	{"return floats", "RETURN 1.5, .5, 1e3, 1E-3, 2.5e+2, -0.25, 0.0", ret(
		item(lit(1.5), "1.5"),
		item(lit(0.5), ".5"),
		item(lit(1000.0), "1e3"),
		item(lit(0.001), "1E-3"),
		item(lit(250.0), "2.5e+2"),
		item(lit(-0.25), "-0.25"),
		item(lit(0.0), "0.0"))},
	{"return booleans and null", "RETURN true, FALSE, Null", ret(
		item(lit(true), "true"), item(lit(false), "FALSE"), item(lit(nil), "Null"))},
	{"return strings", `RETURN 'a', "b", '', "it's", 'say "hi"'`, ret(
		item(lit("a"), "'a'"),
		item(lit("b"), `"b"`),
		item(lit(""), "''"),
		item(lit("it's"), `"it's"`),
		item(lit(`say "hi"`), `'say "hi"'`))},
	{"return escapes", `RETURN '\\ \' \" \n \t \r \b \f', "\N\T\R\B\F"`, ret(
		item(lit("\\ ' \" \n \t \r \b \f"), `'\\ \' \" \n \t \r \b \f'`),
		item(lit("\n\t\r\b\f"), `"\N\T\R\B\F"`))},
	{"return unicode escapes", `RETURN '\u00e9\u00C9', '\U0001F600', '\uD83D\uDE00', '\u12345', 'é'`, ret(
		item(lit("éÉ"), `'\u00e9\u00C9'`),
		item(lit("😀"), `'\U0001F600'`),
		item(lit("😀"), `'\uD83D\uDE00'`),
		item(lit("\u12345"), `'\u12345'`),
		item(lit("é"), "'é'"))},
	{"return params", "RETURN $p, $`p q`, $0, $ x, $return", ret(
		item(Param{Name: "p"}, "$p"),
		item(Param{Name: "p q"}, "$`p q`"),
		item(Param{Name: "0"}, "$0"),
		item(Param{Name: "x"}, "$ x"),
		item(Param{Name: "return"}, "$return"))},
	{"return lists", "RETURN [], [1, 'a', [true, null]], [ $p ]", ret(
		item(ListLiteral{Items: []Expr{}}, "[]"),
		item(ListLiteral{Items: []Expr{lit(int64(1)), lit("a"), ListLiteral{Items: []Expr{lit(true), lit(nil)}}}}, "[1, 'a', [true, null]]"),
		item(ListLiteral{Items: []Expr{Param{Name: "p"}}}, "[ $p ]"))},
	{"return maps", "RETURN {}, {a: 1, `b c`: [2], match: {d: $e}}", ret(
		item(MapLiteral{Entries: []Property{}}, "{}"),
		item(MapLiteral{Entries: []Property{
			{Key: "a", Value: lit(int64(1))},
			{Key: "b c", Value: ListLiteral{Items: []Expr{lit(int64(2))}}},
			{Key: "match", Value: MapLiteral{Entries: []Property{{Key: "d", Value: Param{Name: "e"}}}}},
		}}, "{a: 1, `b c`: [2], match: {d: $e}}"))},
	{"return count star", "RETURN count(*)", ret(item(Count{Var: "*"}, "count(*)"))},
	{"return count spaced", "RETURN COUNT ( * ) AS c", ret(item(Count{Var: "*"}, "c"))},
	{"return parentheses", "RETURN (1), ((-2)) AS y", ret(item(lit(int64(1)), "(1)"), item(lit(int64(-2)), "y"))},
	{"return name keeps inner comments and lines", "RETURN [1, /* c */\n 2] ", ret(
		item(ListLiteral{Items: []Expr{lit(int64(1)), lit(int64(2))}}, "[1, /* c */\n 2]"))},
	{"return 64 levels", "RETURN " + strings.Repeat("[", 64) + strings.Repeat("]", 64),
		ret(item(nested(64), strings.Repeat("[", 64)+strings.Repeat("]", 64)))},
	{"return number then keyword", "RETURN 1AS x, 2.5as y", ret(item(lit(int64(1)), "x"), item(lit(2.5), "y"))},
	{"return then comment", "RETURN 1 // done", ret(item(lit(int64(1)), "1"))},

	// CREATE.
	{"create empty", "CREATE ()", Create{}},
	{"create var", "CREATE (n);", Create{Var: "n"}},
	{"create label", "create (n:Person)", Create{Var: "n", Labels: []string{"Person"}}},
	{"create labels and props no var", "CREATE (:A:B {k: 1, s: 'x', l: [1.5], m: {a: null}})", Create{
		Labels: []string{"A", "B"},
		Props: []Property{
			{Key: "k", Value: lit(int64(1))},
			{Key: "s", Value: lit("x")},
			{Key: "l", Value: ListLiteral{Items: []Expr{lit(1.5)}}},
			{Key: "m", Value: MapLiteral{Entries: []Property{{Key: "a", Value: lit(nil)}}}},
		}}},
	{"create empty props", "CREATE (n {})", Create{Var: "n"}},
	{"create escaped", "CREATE (`my var`:`my label` {`my key`: $`my param`})", Create{
		Var: "my var", Labels: []string{"my label"},
		Props: []Property{{Key: "my key", Value: Param{Name: "my param"}}}}},
	{"create return", "CREATE (n:L {k: $v}) RETURN n, n.k, n.k AS k2, count(*), count(n) AS c", Create{
		Var: "n", Labels: []string{"L"},
		Props: []Property{{Key: "k", Value: Param{Name: "v"}}},
		Items: []ReturnItem{
			item(Variable{Name: "n"}, "n"),
			item(PropertyAccess{Var: "n", Key: "k"}, "n.k"),
			item(PropertyAccess{Var: "n", Key: "k"}, "k2"),
			item(Count{Var: "*"}, "count(*)"),
			item(Count{Var: "n"}, "c"),
		}}},
	{"create return spaced names", "CREATE (n) RETURN n . k , count( n )", Create{
		Var: "n",
		Items: []ReturnItem{
			item(PropertyAccess{Var: "n", Key: "k"}, "n . k"),
			item(Count{Var: "n"}, "count( n )"),
		}}},
	{"create return literal only", "CREATE () RETURN 1", Create{Items: []ReturnItem{item(lit(int64(1)), "1")}}},

	// MATCH.
	{"match return", "MATCH (n) RETURN n", Match{Var: "n", Items: []ReturnItem{item(Variable{Name: "n"}, "n")}}},
	{"match label count", "match (n:Person) return count(n)", Match{Var: "n", Label: "Person",
		Items: []ReturnItem{item(Count{Var: "n"}, "count(n)")}}},
	{"match where return", "MATCH (n:L) WHERE n.k = 1 RETURN n.k, n.K", Match{Var: "n", Label: "L",
		Where: &Equals{Var: "n", Key: "k", Value: lit(int64(1))},
		Items: []ReturnItem{item(PropertyAccess{Var: "n", Key: "k"}, "n.k"), item(PropertyAccess{Var: "n", Key: "K"}, "n.K")}}},
	{"match where param delete", "MATCH (n) WHERE n.id = $id DELETE n;", Match{Var: "n",
		Where: &Equals{Var: "n", Key: "id", Value: Param{Name: "id"}}, Delete: true}},
	{"match detach delete", "match (n:L) detach delete n", Match{Var: "n", Label: "L", Delete: true, Detach: true}},
	{"match where list", "MATCH (n) WHERE n.k = [1, 'x'] RETURN count(*) AS c", Match{Var: "n",
		Where: &Equals{Var: "n", Key: "k", Value: ListLiteral{Items: []Expr{lit(int64(1)), lit("x")}}},
		Items: []ReturnItem{item(Count{Var: "*"}, "c")}}},
	{"match keyword names case-sensitive vars", "MATCH (match:Return) WHERE match.where = 'x' RETURN match.where",
		Match{Var: "match", Label: "Return", Where: &Equals{Var: "match", Key: "where", Value: lit("x")},
			Items: []ReturnItem{item(PropertyAccess{Var: "match", Key: "where"}, "match.where")}}},
	{"match escaped var", "MATCH (`a b`) RETURN `a b`.`c d`", Match{Var: "a b",
		Items: []ReturnItem{item(PropertyAccess{Var: "a b", Key: "c d"}, "`a b`.`c d`")}}},
	{"match multiline", "MATCH (n)\nWHERE n.k = 'v'\nRETURN n.k AS k,\n       n\n;", Match{Var: "n",
		Where: &Equals{Var: "n", Key: "k", Value: lit("v")},
		Items: []ReturnItem{item(PropertyAccess{Var: "n", Key: "k"}, "k"), item(Variable{Name: "n"}, "n")}}},
	{"match count variable named count", "MATCH (count) RETURN count, count(count)", Match{Var: "count",
		Items: []ReturnItem{item(Variable{Name: "count"}, "count"), item(Count{Var: "count"}, "count(count)")}}},

	// Bounds.
	{"exactly MaxQueryBytes", "RETURN 1" + strings.Repeat(" ", MaxQueryBytes-len("RETURN 1")), ret(item(lit(int64(1)), "1"))},
}

func nested(depth int) Expr {
	e := Expr(ListLiteral{Items: []Expr{}})
	for i := 1; i < depth; i++ {
		e = ListLiteral{Items: []Expr{e}}
	}
	return e
}

func TestParseValid(t *testing.T) {
	for _, tc := range validQueries {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.query)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.query, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Parse(%q)\n got %#v\nwant %#v", tc.query, got, tc.want)
			}
			// The printed form parses back to the same AST.
			printed := format(got)
			again, err := Parse(printed)
			if err != nil {
				t.Fatalf("Parse(format) of %q: %v", printed, err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip through %q\n got %#v\nwant %#v", printed, again, got)
			}
		})
	}
}

var invalidQueries = []struct {
	name  string
	query string
	// syntax is true for a *SyntaxError (then line and col are checked),
	// false for a *SemanticError.
	syntax    bool
	line, col int
	msg       string // the full Error() text
}{
	// The replication grammar.
	{"hyphenated replica name", `REGISTER REPLICA replica-1 SYNC TO "127.0.0.1:10000"`, true, 1, 24,
		"Error on line 1 position 25. The underlying parsing error is mismatched input '-' expecting {ASYNC, STRICT_SYNC, SYNC}"},
	{"hyphenated replica name as observed on 3.5", `REGISTER REPLICA memgraph-ha-0 ASYNC TO "127.0.0.1"`, true, 1, 25,
		"Error on line 1 position 26. The underlying parsing error is mismatched input '-' expecting {ASYNC, STRICT_SYNC, SYNC}"},
	{"missing mode", `REGISTER REPLICA r1 TO "x"`, true, 1, 20,
		"Error on line 1 position 21. The underlying parsing error is missing {ASYNC, STRICT_SYNC, SYNC} at 'TO'"},
	{"bad mode", `REGISTER REPLICA r1 SEMI_SYNC TO "x"`, true, 1, 20,
		"Error on line 1 position 21. The underlying parsing error is mismatched input 'SEMI_SYNC' expecting {ASYNC, STRICT_SYNC, SYNC}"},
	{"missing TO", `REGISTER REPLICA r1 SYNC "x"`, true, 1, 25,
		`Error on line 1 position 26. The underlying parsing error is missing TO at '"x"'`},
	{"address not a string", "REGISTER REPLICA r1 SYNC TO 10000", true, 1, 28,
		"Error on line 1 position 29. The underlying parsing error is mismatched input '10000' expecting StringLiteral"},
	{"address missing", "REGISTER REPLICA r1 SYNC TO", true, 1, 27,
		"Error on line 1 position 28. The underlying parsing error is mismatched input '<EOF>' expecting StringLiteral"},
	{"unterminated address", `REGISTER REPLICA r1 SYNC TO "127.0.0.1:10000`, true, 1, 28,
		`Error on line 1 position 29. The underlying parsing error is token recognition error at: '"127.0.0.1:10000'`},
	{"replica name is a string", `REGISTER REPLICA 'r1' SYNC TO "x"`, true, 1, 17,
		"Error on line 1 position 18. The underlying parsing error is extraneous input ''r1'' expecting {UnescapedSymbolicName, EscapedSymbolicName}"},
	{"register instance", `REGISTER INSTANCE i1 WITH CONFIG {}`, true, 1, 9,
		"Error on line 1 position 10 with the INSTANCE token. The underlying parsing error is no viable alternative at input 'REGISTERINSTANCE'. Take a look at clauses around and try to fix the query."},
	{"missing port literal", "SET REPLICATION ROLE TO REPLICA WITH PORT", true, 1, 41,
		"Error on line 1 position 42. The underlying parsing error is mismatched input '<EOF>' expecting DecimalInteger"},
	{"missing port literal before semicolon", "SET REPLICATION ROLE TO REPLICA WITH PORT ;", true, 1, 42,
		"Error on line 1 position 43. The underlying parsing error is mismatched input ';' expecting DecimalInteger"},
	{"port is a string", "SET REPLICATION ROLE TO REPLICA WITH PORT '10000'", true, 1, 42,
		"Error on line 1 position 43. The underlying parsing error is mismatched input ''10000'' expecting DecimalInteger"},
	{"port is negative", "SET REPLICATION ROLE TO REPLICA WITH PORT -1", true, 1, 42,
		"Error on line 1 position 43. The underlying parsing error is extraneous input '-' expecting DecimalInteger"},
	{"missing PORT keyword", "SET REPLICATION ROLE TO REPLICA WITH 10000", true, 1, 37,
		"Error on line 1 position 38. The underlying parsing error is missing PORT at '10000'"},
	{"port out of int64", "SET REPLICATION ROLE TO REPLICA WITH PORT 99999999999999999999", false, 0, 0,
		"Integer literal exceeds 64 bits."},
	{"missing TO in set", "SET REPLICATION ROLE MAIN", true, 1, 21,
		"Error on line 1 position 22. The underlying parsing error is missing TO at 'MAIN'"},
	{"bad role", "SET REPLICATION ROLE TO SECONDARY", true, 1, 24,
		"Error on line 1 position 25. The underlying parsing error is mismatched input 'SECONDARY' expecting {MAIN, REPLICA}"},
	{"main with port", "SET REPLICATION ROLE TO MAIN WITH PORT 1", true, 1, 29,
		"Error on line 1 position 30. The underlying parsing error is mismatched input 'WITH' expecting {<EOF>, ';'}"},
	{"replica junk", "SET REPLICATION ROLE TO REPLICA PORT 1", true, 1, 32,
		"Error on line 1 position 33. The underlying parsing error is mismatched input 'PORT' expecting {<EOF>, ';', WITH}"},
	{"set property", "SET n.x = 1", true, 1, 4,
		"Error on line 1 position 5 with the n token. The underlying parsing error is no viable alternative at input 'SETn'. Take a look at clauses around and try to fix the query."},
	{"show unknown", "SHOW FOO", true, 1, 5,
		"Error on line 1 position 6 with the FOO token. The underlying parsing error is no viable alternative at input 'SHOWFOO'. Take a look at clauses around and try to fix the query."},
	{"show at end", "SHOW", true, 1, 4,
		"Error on line 1 position 5 with the <EOF> token. The underlying parsing error is no viable alternative at input 'SHOW'. Take a look at clauses around and try to fix the query."},
	{"show instances", "SHOW INSTANCES;", true, 1, 5,
		"Error on line 1 position 6 with the INSTANCES token. The underlying parsing error is no viable alternative at input 'SHOWINSTANCES'. Take a look at clauses around and try to fix the query."},
	{"show replication lag", "SHOW REPLICATION LAG", true, 1, 17,
		"Error on line 1 position 18. The underlying parsing error is mismatched input 'LAG' expecting ROLE"},
	{"show replication role missing", "SHOW\n  REPLICATION", true, 2, 13,
		"Error on line 2 position 14. The underlying parsing error is missing ROLE at '<EOF>'"},
	{"show storage", "SHOW STORAGE", true, 1, 12,
		"Error on line 1 position 13. The underlying parsing error is missing INFO at '<EOF>'"},
	{"show storage info on database", "SHOW STORAGE INFO ON DATABASE memgraph", true, 1, 21,
		"Error on line 1 position 22. The underlying parsing error is mismatched input 'DATABASE' expecting CURRENT"},
	{"show storage info on current", "SHOW STORAGE INFO ON CURRENT", true, 1, 28,
		"Error on line 1 position 29. The underlying parsing error is missing DATABASE at '<EOF>'"},
	{"show storage info on current junk", "SHOW STORAGE INFO ON CURRENT DATABASE x", true, 1, 38,
		"Error on line 1 position 39. The underlying parsing error is extraneous input 'x' expecting {<EOF>, ';'}"},
	{"show replicas extraneous", "SHOW REPLICAS foo", true, 1, 14,
		"Error on line 1 position 15. The underlying parsing error is extraneous input 'foo' expecting {<EOF>, ';'}"},
	{"two statements", "SHOW REPLICAS; SHOW REPLICAS", true, 1, 15,
		"Error on line 1 position 16. The underlying parsing error is mismatched input 'SHOW' expecting <EOF>"},
	{"two semicolons", "SHOW REPLICAS;;", true, 1, 14,
		"Error on line 1 position 15. The underlying parsing error is extraneous input ';' expecting <EOF>"},
	{"drop no name", "DROP REPLICA", true, 1, 12,
		"Error on line 1 position 13. The underlying parsing error is mismatched input '<EOF>' expecting {UnescapedSymbolicName, EscapedSymbolicName}"},
	{"drop index", "DROP INDEX ON :L(k)", true, 1, 5,
		"Error on line 1 position 6 with the INDEX token. The underlying parsing error is no viable alternative at input 'DROPINDEX'. Take a look at clauses around and try to fix the query."},
	{"drop hyphen", "DROP REPLICA replica-1", true, 1, 20,
		"Error on line 1 position 21. The underlying parsing error is mismatched input '-' expecting {<EOF>, ';'}"},

	// Statement starts.
	{"empty", "", true, 1, 0,
		"Error on line 1 position 1. The underlying parsing error is mismatched input '<EOF>' expecting {CREATE, DROP, MATCH, REGISTER, RETURN, SET, SHOW}"},
	{"only a comment", "// nothing\n", true, 2, 0,
		"Error on line 2 position 1. The underlying parsing error is mismatched input '<EOF>' expecting {CREATE, DROP, MATCH, REGISTER, RETURN, SET, SHOW}"},
	{"unknown statement", "FOO", true, 1, 0,
		"Error on line 1 position 1. The underlying parsing error is mismatched input 'FOO' expecting {CREATE, DROP, MATCH, REGISTER, RETURN, SET, SHOW}"},
	{"extraneous first token", "x SHOW REPLICAS", true, 1, 0,
		"Error on line 1 position 1. The underlying parsing error is extraneous input 'x' expecting {CREATE, DROP, MATCH, REGISTER, RETURN, SET, SHOW}"},
	{"escaped keyword is not a keyword", "`SHOW` REPLICAS", true, 1, 0,
		"Error on line 1 position 1. The underlying parsing error is mismatched input '`SHOW`' expecting {CREATE, DROP, MATCH, REGISTER, RETURN, SET, SHOW}"},
	{"begin", "BEGIN", true, 1, 0,
		"Error on line 1 position 1. The underlying parsing error is mismatched input 'BEGIN' expecting {CREATE, DROP, MATCH, REGISTER, RETURN, SET, SHOW}"},

	// Data queries outside the subset.
	{"relationship pattern", "MATCH (n)-[r]->(m) RETURN n", true, 1, 9,
		"Error on line 1 position 10. The underlying parsing error is mismatched input '-' expecting {DELETE, DETACH, RETURN, WHERE}"},
	{"match without variable", "MATCH (:L) RETURN count(*)", true, 1, 7,
		"Error on line 1 position 8. The underlying parsing error is extraneous input ':' expecting {UnescapedSymbolicName, EscapedSymbolicName}"},
	{"match two labels", "MATCH (n:A:B) RETURN n", true, 1, 10,
		"Error on line 1 position 11. The underlying parsing error is mismatched input ':' expecting ')'"},
	{"match alone", "MATCH (n)", true, 1, 9,
		"Error on line 1 position 10. The underlying parsing error is mismatched input '<EOF>' expecting {DELETE, DETACH, RETURN, WHERE}"},
	{"where alone", "MATCH (n) WHERE n.k = 1", true, 1, 23,
		"Error on line 1 position 24. The underlying parsing error is mismatched input '<EOF>' expecting {DELETE, DETACH, RETURN}"},
	{"where missing equals", "MATCH (n) WHERE n.k 1 RETURN n", true, 1, 20,
		"Error on line 1 position 21. The underlying parsing error is missing '=' at '1'"},
	{"where other operator", "MATCH (n) WHERE n.k > 1 RETURN n", true, 1, 20,
		"Error on line 1 position 21. The underlying parsing error is mismatched input '>' expecting '='"},
	{"detach without delete", "MATCH (n) DETACH n", true, 1, 17,
		"Error on line 1 position 18. The underlying parsing error is missing DELETE at 'n'"},
	{"multi-line position", "MATCH (n)\nRETURN n\n  LIMIT 1", true, 3, 2,
		"Error on line 3 position 3. The underlying parsing error is mismatched input 'LIMIT' expecting {<EOF>, ';', ',', AS}"},
	{"create path", "CREATE (a)-[:R]->(b)", true, 1, 10,
		"Error on line 1 position 11. The underlying parsing error is mismatched input '-' expecting {<EOF>, ';', RETURN}"},
	{"create two nodes", "CREATE (a), (b)", true, 1, 10,
		"Error on line 1 position 11. The underlying parsing error is mismatched input ',' expecting {<EOF>, ';', RETURN}"},
	{"create user", "CREATE USER alice", true, 1, 7,
		"Error on line 1 position 8. The underlying parsing error is missing '(' at 'USER'"},
	{"create props then label", "CREATE (n {k: 1}:L)", true, 1, 16,
		"Error on line 1 position 17. The underlying parsing error is mismatched input ':' expecting ')'"},
	{"return star", "RETURN *", true, 1, 7,
		"Error on line 1 position 8. The underlying parsing error is mismatched input '*' expecting {'(', '[', '{', '+', '-', '$', COUNT, FALSE, NULL, TRUE, StringLiteral, DecimalInteger, ExponentDecimalReal, RegularDecimalReal, UnescapedSymbolicName, EscapedSymbolicName}"},
	{"return nothing", "RETURN", true, 1, 6,
		"Error on line 1 position 7. The underlying parsing error is mismatched input '<EOF>' expecting {'(', '[', '{', '+', '-', '$', COUNT, FALSE, NULL, TRUE, StringLiteral, DecimalInteger, ExponentDecimalReal, RegularDecimalReal, UnescapedSymbolicName, EscapedSymbolicName}"},
	{"return binary operator", "RETURN 1 + 2", true, 1, 9,
		"Error on line 1 position 10. The underlying parsing error is mismatched input '+' expecting {<EOF>, ';', ',', AS}"},
	{"return two values", "RETURN 1 2", true, 1, 9,
		"Error on line 1 position 10. The underlying parsing error is extraneous input '2' expecting {<EOF>, ';', ',', AS}"},
	{"return alias missing", "RETURN 1 AS", true, 1, 11,
		"Error on line 1 position 12. The underlying parsing error is mismatched input '<EOF>' expecting {UnescapedSymbolicName, EscapedSymbolicName}"},
	{"return after alias", "RETURN 1 AS a b", true, 1, 14,
		"Error on line 1 position 15. The underlying parsing error is extraneous input 'b' expecting {<EOF>, ';', ','}"},
	{"negated variable", "RETURN -n", true, 1, 8,
		"Error on line 1 position 9. The underlying parsing error is mismatched input 'n' expecting {DecimalInteger, ExponentDecimalReal, RegularDecimalReal}"},
	{"function call", "RETURN toUpper('a')", true, 1, 14,
		"Error on line 1 position 15. The underlying parsing error is mismatched input '(' expecting {<EOF>, ';', ',', AS}"},
	{"nested property", "MATCH (n) RETURN n.a.b", true, 1, 20,
		"Error on line 1 position 21. The underlying parsing error is mismatched input '.' expecting {<EOF>, ';', ',', AS}"},
	{"count distinct", "MATCH (n) RETURN count(DISTINCT n)", true, 1, 32,
		"Error on line 1 position 33. The underlying parsing error is extraneous input 'n' expecting ')'"},
	{"unclosed list", "RETURN [1, 2", true, 1, 12,
		"Error on line 1 position 13. The underlying parsing error is mismatched input '<EOF>' expecting {',', ']'}"},
	{"map missing colon", "RETURN {a 1}", true, 1, 10,
		"Error on line 1 position 11. The underlying parsing error is missing ':' at '1'"},
	{"map string key", "RETURN {'a': 1}", true, 1, 8,
		"Error on line 1 position 9. The underlying parsing error is mismatched input ''a'' expecting {UnescapedSymbolicName, EscapedSymbolicName}"},
	{"param without name", "RETURN $", true, 1, 8,
		"Error on line 1 position 9. The underlying parsing error is mismatched input '<EOF>' expecting {DecimalInteger, UnescapedSymbolicName, EscapedSymbolicName}"},

	// Lexical errors.
	{"unterminated string", "RETURN 'abc", true, 1, 7,
		"Error on line 1 position 8. The underlying parsing error is token recognition error at: ''abc'"},
	{"unterminated string quoted in part", "RETURN '" + strings.Repeat("x", 40), true, 1, 7,
		"Error on line 1 position 8. The underlying parsing error is token recognition error at: ''" + strings.Repeat("x", 31) + "...'"},
	{"unterminated string over lines", "RETURN\n  \"a\nb", true, 2, 2,
		`Error on line 2 position 3. The underlying parsing error is token recognition error at: '"a\nb'`},
	{"bad escape", `RETURN 'a\qb'`, true, 1, 7,
		`Error on line 1 position 8. The underlying parsing error is token recognition error at: ''a\q'`},
	{"short unicode escape", `RETURN '\u12'`, true, 1, 7,
		`Error on line 1 position 8. The underlying parsing error is token recognition error at: ''\u'`},
	{"long unicode escape with 4 digits", `RETURN '\U1234'`, true, 1, 7,
		`Error on line 1 position 8. The underlying parsing error is token recognition error at: ''\U'`},
	{"unknown character", "RETURN 1 # 2", true, 1, 9,
		"Error on line 1 position 10. The underlying parsing error is token recognition error at: '#'"},
	{"unknown character after multibyte", "RETURN 'é', #", true, 1, 12,
		"Error on line 1 position 13. The underlying parsing error is token recognition error at: '#'"},
	{"tab is one column", "RETURN\t1\t#", true, 1, 9,
		"Error on line 1 position 10. The underlying parsing error is token recognition error at: '#'"},
	{"unicode identifier", "RETURN été", true, 1, 7,
		"Error on line 1 position 8. The underlying parsing error is token recognition error at: 'é'"},
	{"unterminated block comment", "RETURN 1 /* never closed", true, 1, 9,
		"Error on line 1 position 10. The underlying parsing error is token recognition error at: '/* never closed'"},
	{"unterminated escaped name", "MATCH (`n) RETURN 1", true, 1, 7,
		"Error on line 1 position 8. The underlying parsing error is token recognition error at: '`n) RETURN 1'"},
	{"empty escaped name", "CREATE (``)", true, 1, 8,
		"Error on line 1 position 9. The underlying parsing error is token recognition error at: '``'"},
	{"hex literal", "RETURN 0x1F", true, 1, 7,
		"Error on line 1 position 8. The underlying parsing error is token recognition error at: '0x1F'"},
	{"octal literal", "RETURN 017", true, 1, 7,
		"Error on line 1 position 8. The underlying parsing error is token recognition error at: '017'"},
	{"number then letters", "RETURN 12abc", true, 1, 9,
		"Error on line 1 position 10. The underlying parsing error is extraneous input 'abc' expecting {<EOF>, ';', ',', AS}"},
	{"invalid utf-8", "RETURN 'a\xffb'", true, 1, 9,
		`Error on line 1 position 10. The underlying parsing error is token recognition error at: '\xff'`},
	{"syntax error before lexical error wins", "RETURN 1 2 #", true, 1, 9,
		"Error on line 1 position 10. The underlying parsing error is mismatched input '2' expecting {<EOF>, ';', ',', AS}"},

	// Bounds.
	{"too long", "RETURN 1" + strings.Repeat(" ", MaxQueryBytes), true, 1, 0,
		"Error on line 1 position 1. The underlying parsing error is query of 1048584 bytes exceeds the limit of 1048576 bytes"},
	{"too deep list", "RETURN " + strings.Repeat("[", 65) + strings.Repeat("]", 65), true, 1, 71,
		"Error on line 1 position 72. The underlying parsing error is nesting deeper than 64 levels"},
	{"too deep mixed", "RETURN " + strings.Repeat("{a: [(", 22), true, 1, 137,
		"Error on line 1 position 138. The underlying parsing error is nesting deeper than 64 levels"},

	// Semantic errors, in Memgraph's words.
	{"int out of range", "RETURN 9223372036854775808", false, 0, 0, "Integer literal exceeds 64 bits."},
	{"negative int out of range", "RETURN -9223372036854775809", false, 0, 0, "Integer literal exceeds 64 bits."},
	{"huge int", "RETURN 123456789012345678901234567890", false, 0, 0, "Integer literal exceeds 64 bits."},
	{"float overflow", "RETURN 1e999", false, 0, 0, "Couldn't parse string to double."},
	{"lone high surrogate", `RETURN '\uD800x'`, false, 0, 0, "Invalid UTF codepoint."},
	{"high surrogate then non-surrogate", `RETURN '\uD800\u0041'`, false, 0, 0, "Invalid UTF codepoint."},
	{"lone low surrogate", `RETURN "\uDC00"`, false, 0, 0, "Invalid UTF codepoint."},
	{"code point too large", `RETURN '\U00110000'`, false, 0, 0, "Invalid UTF codepoint."},
	{"duplicate map key", "RETURN {a: 1, b: 2, a: 3}", false, 0, 0, "Same key can't appear twice in a map literal."},
	{"duplicate property key", "CREATE (n {k: 1, k: 2})", false, 0, 0, "Same key can't appear twice in a map literal."},
	{"unbound in return", "RETURN x", false, 0, 0, "Unbound variable: x."},
	{"unbound property in return", "RETURN x.k", false, 0, 0, "Unbound variable: x."},
	{"unbound count", "RETURN count(x)", false, 0, 0, "Unbound variable: x."},
	{"unbound in list", "RETURN [1, {a: y}]", false, 0, 0, "Unbound variable: y."},
	{"match returns unbound", "MATCH (n) RETURN n, m", false, 0, 0, "Unbound variable: m."},
	{"variables are case-sensitive", "MATCH (n) RETURN N", false, 0, 0, "Unbound variable: N."},
	{"where unbound var", "MATCH (n) WHERE m.k = 1 RETURN n", false, 0, 0, "Unbound variable: m."},
	{"where unbound value", "MATCH (n) WHERE n.k = m RETURN n", false, 0, 0, "Unbound variable: m."},
	{"delete unbound", "MATCH (n) DELETE m", false, 0, 0, "Unbound variable: m."},
	{"detach delete unbound", "MATCH (n) DETACH DELETE m", false, 0, 0, "Unbound variable: m."},
	{"create returns unbound", "CREATE (n) RETURN m", false, 0, 0, "Unbound variable: m."},
	{"anonymous create returns", "CREATE (:L) RETURN n", false, 0, 0, "Unbound variable: n."},
	{"create var unbound in its own props", "CREATE (n {k: n.x})", false, 0, 0, "Unbound variable: n."},
	{"alias not visible to later items", "MATCH (n) RETURN n AS x, x", false, 0, 0, "Unbound variable: x."},
	{"aggregation in where", "MATCH (n) WHERE n.k = count(*) RETURN n", false, 0, 0,
		"Aggregation functions are only allowed in WITH and RETURN."},
	{"aggregation in create", "CREATE (n {k: [count(*)]})", false, 0, 0,
		"Aggregation functions are only allowed in WITH and RETURN."},
	{"duplicate column", "RETURN 1, 1", false, 0, 0, "Multiple results with the same name '1' are not allowed."},
	{"duplicate alias", "MATCH (n) RETURN n.k AS x, n AS x", false, 0, 0, "Multiple results with the same name 'x' are not allowed."},
	{"alias equals source text", "MATCH (n) RETURN n.k, n AS `n.k`", false, 0, 0, "Multiple results with the same name 'n.k' are not allowed."},

	// Which error wins.
	{"syntax beats literal range", "RETURN 99999999999999999999 x", true, 1, 28,
		"Error on line 1 position 29. The underlying parsing error is extraneous input 'x' expecting {<EOF>, ';', ',', AS}"},
	{"syntax beats unbound", "RETURN x y", true, 1, 9,
		"Error on line 1 position 10. The underlying parsing error is extraneous input 'y' expecting {<EOF>, ';', ',', AS}"},
	{"literal range beats unbound", "RETURN x, 99999999999999999999", false, 0, 0, "Integer literal exceeds 64 bits."},
	{"first literal error wins", `RETURN '\uDC00', 99999999999999999999`, false, 0, 0, "Invalid UTF codepoint."},
	{"unbound beats duplicate column", "RETURN 1 AS a, 2 AS a, z", false, 0, 0, "Unbound variable: z."},
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range invalidQueries {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Parse(tc.query)
			if err == nil {
				t.Fatalf("Parse(%q) = %#v, want an error", tc.query, st)
			}
			if st != nil {
				t.Errorf("Parse(%q) returned %#v with its error", tc.query, st)
			}
			if got := err.Error(); got != tc.msg {
				t.Errorf("Parse(%q) error\n got %s\nwant %s", tc.query, got, tc.msg)
			}
			var synErr *SyntaxError
			var semErr *SemanticError
			switch {
			case tc.syntax && errors.As(err, &synErr):
				if synErr.Line != tc.line || synErr.Column != tc.col {
					t.Errorf("Parse(%q) at line %d column %d, want line %d column %d",
						tc.query, synErr.Line, synErr.Column, tc.line, tc.col)
				}
			case !tc.syntax && errors.As(err, &semErr):
			default:
				t.Errorf("Parse(%q) error is %T, want syntax=%v", tc.query, err, tc.syntax)
			}
		})
	}
}

func TestSyntaxErrorToken(t *testing.T) {
	_, err := Parse("SHOW\n  FOO;")
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("got %T, want *SyntaxError", err)
	}
	want := SyntaxError{Line: 2, Column: 2, Message: "no viable alternative at input 'SHOWFOO'", Token: "FOO"}
	if *se != want {
		t.Fatalf("got %+v, want %+v", *se, want)
	}
}

// TestParseLinear guards against super-linear behaviour on large inputs that
// stay within the bounds.
func TestParseLinear(t *testing.T) {
	var b strings.Builder
	b.WriteString("RETURN [")
	for b.Len() < MaxQueryBytes-100 {
		b.WriteString("'x', 1, 2.5, {a: [null]}, ")
	}
	b.WriteString("0]")
	st, err := Parse(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(st.(Return).Items[0].Expr.(ListLiteral).Items); n < 100000 {
		t.Fatalf("parsed %d list items", n)
	}
	// A long run of signs is iterated, not recursed.
	if _, err := Parse("RETURN " + strings.Repeat("-", MaxQueryBytes-10) + "1"); err != nil {
		t.Fatal(err)
	}
}
