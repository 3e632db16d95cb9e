package cypher

// Statement is one parsed query. Exactly one of the concrete types below.
type Statement interface{ statement() }

// Replication and information queries (reference/memgraph.md section 1).

// ShowReplicationRole is SHOW REPLICATION ROLE.
type ShowReplicationRole struct{}

// SetReplicationRole is SET REPLICATION ROLE TO MAIN | REPLICA [WITH PORT p].
// Port is nil when WITH PORT is absent; the literal is kept as written (it may
// be out of range: the engine answers "Port number invalid!").
type SetReplicationRole struct {
	ToMain bool
	Port   *int64
}

// RegisterReplica is REGISTER REPLICA name SYNC|ASYNC|STRICT_SYNC TO "addr".
// Mode is "SYNC", "ASYNC" or "STRICT_SYNC". Address is the string literal's
// content, unvalidated.
type RegisterReplica struct {
	Name    string
	Mode    string
	Address string
}

// DropReplica is DROP REPLICA name.
type DropReplica struct{ Name string }

// ShowReplicas is SHOW REPLICAS.
type ShowReplicas struct{}

// ShowStorageInfo is SHOW STORAGE INFO [ON CURRENT DATABASE].
// OnCurrentDatabase selects the per-database form (Memgraph 3.11+); the
// engine refuses it on older releases as their grammar does.
type ShowStorageInfo struct{ OnCurrentDatabase bool }

// Data queries (a small subset of openCypher).

// Return is a standalone RETURN expr [AS alias], ...
type Return struct{ Items []ReturnItem }

// Create is CREATE (var:Label:Label2 {k: expr, ...}) [RETURN items].
// Var may be empty. Items is empty when there is no RETURN.
type Create struct {
	Var    string
	Labels []string
	Props  []Property
	Items  []ReturnItem
}

// Match is MATCH (var[:Label]) [WHERE cond] (RETURN items | [DETACH] DELETE var).
// Label is "" when absent. Where is nil when absent. Exactly one of Items
// (non-empty) or Delete is set. Detach is true for DETACH DELETE.
type Match struct {
	Var    string
	Label  string
	Where  *Equals
	Items  []ReturnItem
	Delete bool
	Detach bool
}

// Equals is the only WHERE condition supported: var.key = expr.
type Equals struct {
	Var   string
	Key   string
	Value Expr
}

// Property is one k: expr entry of a map literal in a pattern.
type Property struct {
	Key   string
	Value Expr
}

// ReturnItem is one projected expression. Name is the column name: the alias
// after AS, or else the expression's text as written in the query (Memgraph
// names unaliased columns by their source text, e.g. "count(n)", "n.k", "1").
type ReturnItem struct {
	Expr Expr
	Name string
}

// Expr is an expression: one of the types below.
type Expr interface{ expr() }

// Literal is null, a boolean, an int64, a float64 or a string.
type Literal struct{ Value any }

// Param is $name.
type Param struct{ Name string }

// Variable is a bare variable, e.g. n.
type Variable struct{ Name string }

// PropertyAccess is var.key.
type PropertyAccess struct {
	Var string
	Key string
}

// Count is count(var) or count(*) (Var == "*").
type Count struct{ Var string }

// ListLiteral is [expr, ...].
type ListLiteral struct{ Items []Expr }

// MapLiteral is {k: expr, ...}.
type MapLiteral struct{ Entries []Property }

func (ShowReplicationRole) statement() {}
func (SetReplicationRole) statement()  {}
func (RegisterReplica) statement()     {}
func (DropReplica) statement()         {}
func (ShowReplicas) statement()        {}
func (ShowStorageInfo) statement()     {}
func (Return) statement()              {}
func (Create) statement()              {}
func (Match) statement()               {}

func (Literal) expr()        {}
func (Param) expr()          {}
func (Variable) expr()       {}
func (PropertyAccess) expr() {}
func (Count) expr()          {}
func (ListLiteral) expr()    {}
func (MapLiteral) expr()     {}
