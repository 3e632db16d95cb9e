package cypher

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Input bounds. Parse refuses longer queries and deeper nesting with a
// *SyntaxError instead of using unbounded time, memory or stack.
const (
	// MaxQueryBytes is the longest query Parse accepts, in bytes.
	MaxQueryBytes = 1 << 20
	// MaxNesting is how deeply list literals, map literals and parentheses
	// may nest.
	MaxNesting = 64
)

// Parse parses one query of the emulator's subset (see the package
// documentation) into its Statement. The concrete types are returned as
// values (Match, not *Match), and so are the expressions inside them.
//
// A query that does not parse, or that lies outside the subset, gives a
// *SyntaxError; a query that parses but that Memgraph would reject before
// running it (an unbound variable, an integer literal out of range...) gives
// a *SemanticError. As in Memgraph, syntax errors win over semantic ones
// wherever they are in the query.
func Parse(query string) (Statement, error) {
	if len(query) > MaxQueryBytes {
		return nil, &SyntaxError{Line: 1, Column: 0,
			Message: fmt.Sprintf("query of %d bytes exceeds the limit of %d bytes", len(query), MaxQueryBytes)}
	}
	if err := checkUTF8(query); err != nil {
		return nil, err
	}
	p := &parser{src: query, lex: newLexer(query)}
	p.cur = p.lex.next()
	st, err := p.statement()
	if err != nil {
		return nil, err
	}
	if p.sem != nil {
		return nil, p.sem
	}
	if err := p.check(st); err != nil {
		return nil, err
	}
	return st, nil
}

// checkUTF8 refuses a query that is not valid UTF-8, at its first bad byte.
func checkUTF8(query string) error {
	if utf8.ValidString(query) {
		return nil
	}
	line, col := 1, 0
	for i := 0; i < len(query); {
		r, n := utf8.DecodeRuneInString(query[i:])
		if r == utf8.RuneError && n == 1 {
			text := fmt.Sprintf(`\x%02x`, query[i])
			return &SyntaxError{Line: line, Column: col, Message: "token recognition error at: '" + text + "'", Token: text}
		}
		if r == '\n' {
			line, col = line+1, 0
		} else {
			col++
		}
		i += n
	}
	return nil
}

// parser is a recursive-descent parser over the lexer's tokens with two
// tokens of look-ahead (cur and, on demand, ahead). It never backtracks, so
// it runs in time linear in the query.
type parser struct {
	src      string
	lex      *lexer
	cur      token
	ahead    token
	hasAhead bool
	lastEnd  int // end offset of the last consumed token
	depth    int // current nesting of list, map and parenthesis

	// sem is the first error Memgraph reports while building its AST
	// (literal decoding, duplicate map keys). It is returned only if the
	// whole query parses.
	sem *SemanticError
	// deleteVar is the variable after DELETE, which the AST does not keep.
	deleteVar string
}

func (p *parser) advance() {
	p.lastEnd = p.cur.end
	if p.hasAhead {
		p.cur, p.hasAhead = p.ahead, false
		return
	}
	p.cur = p.lex.next()
}

func (p *parser) peek() token {
	if !p.hasAhead {
		p.ahead, p.hasAhead = p.lex.next(), true
	}
	return p.ahead
}

func (p *parser) isKw(kw string) bool {
	return p.cur.kind == tkWord && strings.EqualFold(p.cur.text, kw)
}

func (p *parser) isPunct(s string) bool { return p.cur.kind == tkPunct && p.cur.text == s }

func (p *parser) semantic(msg string) {
	if p.sem == nil {
		p.sem = &SemanticError{Message: msg}
	}
}

// Expected-token names, as ANTLR's vocabulary shows them: "<EOF>", quoted
// punctuation ("'('"), keywords in upper case, and these token classes.
const (
	expEOF     = "<EOF>"
	expString  = "StringLiteral"
	expInt     = "DecimalInteger"
	expExpReal = "ExponentDecimalReal"
	expRegReal = "RegularDecimalReal"
	expName    = "UnescapedSymbolicName"
	expEscName = "EscapedSymbolicName"
)

var (
	endSet    = []string{expEOF, "';'"}
	nameSet   = []string{expEscName, expName}
	numberSet = []string{expInt, expExpReal, expRegReal}
	exprStart = []string{"'$'", "'('", "'+'", "'-'", "'['", "'{'", "COUNT", "FALSE", "NULL", "TRUE",
		expString, expInt, expExpReal, expRegReal, expName, expEscName}
	modeSet = []string{"ASYNC", "STRICT_SYNC", "SYNC"}

	statementStart = []string{"CREATE", "DROP", "MATCH", "REGISTER", "RETURN", "SET", "SHOW"}
)

func with(set []string, more ...string) []string {
	return append(append([]string(nil), set...), more...)
}

// matches reports whether t is an instance of the expected-token name e.
func matches(t token, e string) bool {
	switch e {
	case expEOF:
		return t.kind == tkEOF
	case expString:
		return t.kind == tkString
	case expInt:
		return t.kind == tkInt
	case expExpReal, expRegReal:
		return t.kind == tkFloat
	case expName:
		return t.kind == tkWord
	case expEscName:
		return t.kind == tkQuoted
	}
	if e[0] == '\'' {
		return t.kind == tkPunct && t.text == e[1:len(e)-1]
	}
	return t.kind == tkWord && strings.EqualFold(t.text, e)
}

func matchesAny(t token, set []string) bool {
	for _, e := range set {
		if matches(t, e) {
			return true
		}
	}
	return false
}

// punctRank orders punctuation roughly as openCypher's grammar introduces it.
const punctRank = ";,=()[]{}:.*+-$"

var classRank = map[string]int{expString: 0, expInt: 1, expExpReal: 2, expRegReal: 3, expName: 4, expEscName: 5}

// formatSet renders an expected-token set as ANTLR does: one name alone,
// several in braces, sorted (EOF, punctuation, keywords, token classes).
func formatSet(set []string) string {
	if len(set) == 1 {
		return set[0]
	}
	s := append([]string(nil), set...)
	key := func(e string) (int, int, string) {
		switch {
		case e == expEOF:
			return 0, 0, ""
		case e[0] == '\'':
			return 1, strings.Index(punctRank, e[1:len(e)-1]), e
		}
		if r, ok := classRank[e]; ok {
			return 3, r, ""
		}
		return 2, 0, e
	}
	sort.Slice(s, func(i, j int) bool {
		gi, ri, si := key(s[i])
		gj, rj, sj := key(s[j])
		if gi != gj {
			return gi < gj
		}
		if ri != rj {
			return ri < rj
		}
		return si < sj
	})
	return "{" + strings.Join(s, ", ") + "}"
}

func (p *parser) errAt(t token, msg string) *SyntaxError {
	return &SyntaxError{Line: t.line, Column: t.col, Message: msg, Token: t.rawText()}
}

// fail reports that the current token matches none of want. Like ANTLR's
// recoverInline it says "extraneous input" when dropping the token would let
// the next one match, "missing" when the current token is one of follow (what
// would come right after the expected token), else "mismatched input".
func (p *parser) fail(want, follow []string) error {
	t := p.cur
	if t.kind == tkError {
		return p.errAt(t, t.val)
	}
	set := formatSet(want)
	if t.kind != tkEOF && matchesAny(p.peek(), want) {
		return p.errAt(t, "extraneous input "+t.display()+" expecting "+set)
	}
	if matchesAny(t, follow) {
		return p.errAt(t, "missing "+set+" at "+t.display())
	}
	return p.errAt(t, "mismatched input "+t.display()+" expecting "+set)
}

// expect consumes the current token if it matches want.
func (p *parser) expect(want, follow []string) (token, error) {
	t := p.cur
	if !matchesAny(t, want) {
		return token{}, p.fail(want, follow)
	}
	p.advance()
	return t, nil
}

// noViable reports that no statement form fits the tokens from the one at
// startOff up to the current one. As in ANTLR the quoted input is those
// tokens' texts run together, without the white space between them.
func (p *parser) noViable(startOff int) error {
	t := p.cur
	if t.kind == tkError {
		return p.errAt(t, t.val)
	}
	var b strings.Builder
	l := newLexer(p.src)
	l.off = startOff
	for {
		x := l.next()
		if x.kind == tkEOF || x.kind == tkError || x.off >= t.off {
			break
		}
		b.WriteString(x.text)
	}
	if t.kind != tkEOF {
		b.WriteString(t.text)
	}
	input := b.String()
	if input == "" {
		input = "<EOF>"
	}
	return p.errAt(t, "no viable alternative at input "+quoteDisplay(input))
}

func nameValue(t token) string {
	if t.kind == tkQuoted {
		return t.val
	}
	return t.text
}

// name parses a symbolic name: an unescaped word (keywords included) or a
// backtick-escaped name. In Memgraph's grammar a name is a rule, not a token,
// so a missing name is reported as mismatched, never as "missing".
func (p *parser) name() (string, error) {
	t, err := p.expect(nameSet, nil)
	if err != nil {
		return "", err
	}
	return nameValue(t), nil
}

// statement parses the whole query. Each statement form returns the optional
// tokens that could still have followed it, for the end-of-query error.
func (p *parser) statement() (Statement, error) {
	var (
		st    Statement
		extra []string
		err   error
	)
	switch {
	case p.isKw("SHOW"):
		st, extra, err = p.show()
	case p.isKw("SET"):
		st, extra, err = p.setRole()
	case p.isKw("REGISTER"):
		st, extra, err = p.register()
	case p.isKw("DROP"):
		st, extra, err = p.drop()
	case p.isKw("RETURN"):
		st, extra, err = p.returnQuery()
	case p.isKw("CREATE"):
		st, extra, err = p.create()
	case p.isKw("MATCH"):
		st, extra, err = p.match()
	default:
		return nil, p.fail(statementStart, nil)
	}
	if err != nil {
		return nil, err
	}
	if p.isPunct(";") {
		p.advance()
		if p.cur.kind != tkEOF {
			return nil, p.fail([]string{expEOF}, nil)
		}
		return st, nil
	}
	if p.cur.kind != tkEOF {
		return nil, p.fail(with(endSet, extra...), nil)
	}
	return st, nil
}

// show parses SHOW REPLICATION ROLE, SHOW REPLICAS and SHOW STORAGE INFO
// [ON CURRENT DATABASE]. ON DATABASE <name> is not understood.
func (p *parser) show() (Statement, []string, error) {
	start := p.cur.off
	p.advance()
	switch {
	case p.isKw("REPLICATION"):
		p.advance()
		if _, err := p.expect([]string{"ROLE"}, endSet); err != nil {
			return nil, nil, err
		}
		return ShowReplicationRole{}, nil, nil
	case p.isKw("REPLICAS"):
		p.advance()
		return ShowReplicas{}, nil, nil
	case p.isKw("STORAGE"):
		p.advance()
		if _, err := p.expect([]string{"INFO"}, endSet); err != nil {
			return nil, nil, err
		}
		if !p.isKw("ON") {
			return ShowStorageInfo{}, nil, nil
		}
		p.advance()
		if _, err := p.expect([]string{"CURRENT"}, nil); err != nil {
			return nil, nil, err
		}
		if _, err := p.expect([]string{"DATABASE"}, endSet); err != nil {
			return nil, nil, err
		}
		return ShowStorageInfo{OnCurrentDatabase: true}, nil, nil
	}
	return nil, nil, p.noViable(start)
}

// setRole parses SET REPLICATION ROLE TO MAIN | REPLICA [WITH PORT n].
func (p *parser) setRole() (Statement, []string, error) {
	start := p.cur.off
	p.advance()
	if !p.isKw("REPLICATION") {
		return nil, nil, p.noViable(start)
	}
	p.advance()
	if _, err := p.expect([]string{"ROLE"}, []string{"TO"}); err != nil {
		return nil, nil, err
	}
	if _, err := p.expect([]string{"TO"}, []string{"MAIN", "REPLICA"}); err != nil {
		return nil, nil, err
	}
	role, err := p.expect([]string{"MAIN", "REPLICA"}, with(endSet, "WITH"))
	if err != nil {
		return nil, nil, err
	}
	if strings.EqualFold(role.text, "MAIN") {
		return SetReplicationRole{ToMain: true}, nil, nil
	}
	if !p.isKw("WITH") {
		return SetReplicationRole{}, []string{"WITH"}, nil
	}
	p.advance()
	if _, err := p.expect([]string{"PORT"}, []string{expInt}); err != nil {
		return nil, nil, err
	}
	t, err := p.expect([]string{expInt}, nil)
	if err != nil {
		return nil, nil, err
	}
	port := p.intValue(t, false)
	return SetReplicationRole{Port: &port}, nil, nil
}

// register parses REGISTER REPLICA name SYNC|ASYNC|STRICT_SYNC TO "address".
func (p *parser) register() (Statement, []string, error) {
	start := p.cur.off
	p.advance()
	if !p.isKw("REPLICA") {
		return nil, nil, p.noViable(start)
	}
	p.advance()
	name, err := p.name()
	if err != nil {
		return nil, nil, err
	}
	mode, err := p.expect(modeSet, []string{"TO"})
	if err != nil {
		return nil, nil, err
	}
	if _, err := p.expect([]string{"TO"}, []string{expString}); err != nil {
		return nil, nil, err
	}
	addr, err := p.expect([]string{expString}, nil)
	if err != nil {
		return nil, nil, err
	}
	if addr.sem != "" {
		p.semantic(addr.sem)
	}
	return RegisterReplica{Name: name, Mode: strings.ToUpper(mode.text), Address: addr.val}, nil, nil
}

// drop parses DROP REPLICA name.
func (p *parser) drop() (Statement, []string, error) {
	start := p.cur.off
	p.advance()
	if !p.isKw("REPLICA") {
		return nil, nil, p.noViable(start)
	}
	p.advance()
	name, err := p.name()
	if err != nil {
		return nil, nil, err
	}
	return DropReplica{Name: name}, nil, nil
}

// returnQuery parses a standalone RETURN.
func (p *parser) returnQuery() (Statement, []string, error) {
	p.advance()
	items, extra, err := p.items()
	if err != nil {
		return nil, nil, err
	}
	return Return{Items: items}, extra, nil
}

// create parses CREATE (var:Label {k: v}) [RETURN items].
func (p *parser) create() (Statement, []string, error) {
	p.advance()
	if _, err := p.expect([]string{"'('"}, with(nameSet, "')'", "':'", "'{'")); err != nil {
		return nil, nil, err
	}
	var c Create
	want := with(nameSet, "')'", "':'", "'{'")
	if p.cur.kind == tkWord || p.cur.kind == tkQuoted {
		c.Var = nameValue(p.cur)
		p.advance()
		want = []string{"')'", "':'", "'{'"}
	}
	for p.isPunct(":") {
		p.advance()
		label, err := p.name()
		if err != nil {
			return nil, nil, err
		}
		c.Labels = append(c.Labels, label)
		want = []string{"')'", "':'", "'{'"}
	}
	if p.isPunct("{") {
		props, err := p.mapLiteral()
		if err != nil {
			return nil, nil, err
		}
		if len(props) > 0 {
			c.Props = props
		}
		want = []string{"')'"}
	}
	if !p.isPunct(")") {
		return nil, nil, p.fail(want, with(endSet, "RETURN"))
	}
	p.advance()
	if !p.isKw("RETURN") {
		return c, []string{"RETURN"}, nil
	}
	p.advance()
	items, extra, err := p.items()
	if err != nil {
		return nil, nil, err
	}
	c.Items = items
	return c, extra, nil
}

// match parses MATCH (var[:Label]) [WHERE var.key = expr] followed by
// RETURN items or [DETACH] DELETE var.
func (p *parser) match() (Statement, []string, error) {
	p.advance()
	if _, err := p.expect([]string{"'('"}, nameSet); err != nil {
		return nil, nil, err
	}
	var m Match
	var err error
	if m.Var, err = p.name(); err != nil {
		return nil, nil, err
	}
	want := []string{"')'", "':'"}
	if p.isPunct(":") {
		p.advance()
		if m.Label, err = p.name(); err != nil {
			return nil, nil, err
		}
		want = []string{"')'"}
	}
	if !p.isPunct(")") {
		return nil, nil, p.fail(want, []string{"DELETE", "DETACH", "RETURN", "WHERE"})
	}
	p.advance()
	if p.isKw("WHERE") {
		p.advance()
		var w Equals
		if w.Var, err = p.name(); err != nil {
			return nil, nil, err
		}
		if _, err := p.expect([]string{"'.'"}, nameSet); err != nil {
			return nil, nil, err
		}
		if w.Key, err = p.name(); err != nil {
			return nil, nil, err
		}
		if _, err := p.expect([]string{"'='"}, exprStart); err != nil {
			return nil, nil, err
		}
		if w.Value, err = p.expr(); err != nil {
			return nil, nil, err
		}
		m.Where = &w
	}
	switch {
	case p.isKw("RETURN"):
		p.advance()
		items, extra, err := p.items()
		if err != nil {
			return nil, nil, err
		}
		m.Items = items
		return m, extra, nil
	case p.isKw("DELETE"), p.isKw("DETACH"):
		if p.isKw("DETACH") {
			p.advance()
			if _, err := p.expect([]string{"DELETE"}, nameSet); err != nil {
				return nil, nil, err
			}
			m.Detach = true
		} else {
			p.advance()
		}
		if p.deleteVar, err = p.name(); err != nil {
			return nil, nil, err
		}
		m.Delete = true
		return m, nil, nil
	}
	want = []string{"DELETE", "DETACH", "RETURN"}
	if m.Where == nil {
		want = append(want, "WHERE")
	}
	return nil, nil, p.fail(want, nil)
}

// items parses expr [AS alias] {, expr [AS alias]}. An unaliased item is
// named by its source text, from its first token to its last.
func (p *parser) items() ([]ReturnItem, []string, error) {
	var items []ReturnItem
	for {
		start := p.cur.off
		e, err := p.expr()
		if err != nil {
			return nil, nil, err
		}
		it := ReturnItem{Expr: e, Name: p.src[start:p.lastEnd]}
		extra := []string{"','"}
		if p.isKw("AS") {
			p.advance()
			if it.Name, err = p.name(); err != nil {
				return nil, nil, err
			}
		} else {
			extra = append(extra, "AS")
		}
		items = append(items, it)
		if !p.isPunct(",") {
			return items, extra, nil
		}
		p.advance()
	}
}

// expr parses one expression of the subset.
func (p *parser) expr() (Expr, error) {
	t := p.cur
	switch t.kind {
	case tkInt, tkFloat:
		return p.number(false), nil
	case tkString:
		p.advance()
		if t.sem != "" {
			p.semantic(t.sem)
		}
		return Literal{Value: t.val}, nil
	case tkQuoted:
		return p.variable()
	case tkWord:
		switch {
		case strings.EqualFold(t.text, "true"):
			p.advance()
			return Literal{Value: true}, nil
		case strings.EqualFold(t.text, "false"):
			p.advance()
			return Literal{Value: false}, nil
		case strings.EqualFold(t.text, "null"):
			p.advance()
			return Literal{Value: nil}, nil
		case strings.EqualFold(t.text, "count") && p.peek().kind == tkPunct && p.peek().text == "(":
			return p.count()
		}
		return p.variable()
	case tkPunct:
		switch t.text {
		case "-", "+":
			return p.signed()
		case "$":
			return p.param()
		case "[":
			return p.list()
		case "{":
			entries, err := p.mapLiteral()
			if err != nil {
				return nil, err
			}
			return MapLiteral{Entries: entries}, nil
		case "(":
			return p.paren()
		}
	}
	return nil, p.fail(exprStart, nil)
}

// signed parses unary signs before a number literal and folds them into it.
func (p *parser) signed() (Expr, error) {
	neg := false
	for p.isPunct("-") || p.isPunct("+") {
		if p.cur.text == "-" {
			neg = !neg
		}
		p.advance()
	}
	if p.cur.kind != tkInt && p.cur.kind != tkFloat {
		return nil, p.fail(numberSet, nil)
	}
	return p.number(neg), nil
}

// number consumes the current int or float token, negated if neg.
func (p *parser) number(neg bool) Expr {
	t := p.cur
	p.advance()
	if t.kind == tkInt {
		return Literal{Value: p.intValue(t, neg)}
	}
	f, err := strconv.ParseFloat(t.text, 64)
	if err != nil && math.IsInf(f, 0) {
		p.semantic(msgFloatRange)
	}
	if neg {
		f = -f
	}
	return Literal{Value: f}
}

// intValue is the int64 value of a decimal integer token, negated if neg.
// Out of range it records Memgraph's semantic error and returns 0.
func (p *parser) intValue(t token, neg bool) int64 {
	u, err := strconv.ParseUint(t.text, 10, 64)
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	if err != nil || u > limit {
		p.semantic(msgIntRange)
		return 0
	}
	if neg {
		return -int64(u) // for 1<<63, int64(u) is MinInt64 and stays so
	}
	return int64(u)
}

// variable parses var or var.key.
func (p *parser) variable() (Expr, error) {
	name := nameValue(p.cur)
	p.advance()
	if !p.isPunct(".") {
		return Variable{Name: name}, nil
	}
	p.advance()
	key, err := p.name()
	if err != nil {
		return nil, err
	}
	return PropertyAccess{Var: name, Key: key}, nil
}

// count parses count(*) or count(var); the current token is "count" and the
// next one is "(".
func (p *parser) count() (Expr, error) {
	p.advance()
	p.advance()
	v := "*"
	if p.isPunct("*") {
		p.advance()
	} else {
		t, err := p.expect(with(nameSet, "'*'"), []string{"')'"})
		if err != nil {
			return nil, err
		}
		v = nameValue(t)
	}
	if _, err := p.expect([]string{"')'"}, nil); err != nil {
		return nil, err
	}
	return Count{Var: v}, nil
}

// param parses $name, $`name` or $0.
func (p *parser) param() (Expr, error) {
	p.advance()
	t := p.cur
	switch t.kind {
	case tkWord, tkInt, tkQuoted:
		p.advance()
		return Param{Name: nameValue(t)}, nil
	}
	return nil, p.fail(with(nameSet, expInt), nil)
}

// enter counts one more level of nesting, refusing more than MaxNesting.
func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxNesting {
		return p.errAt(p.cur, fmt.Sprintf("nesting deeper than %d levels", MaxNesting))
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// list parses [expr, ...].
func (p *parser) list() (Expr, error) {
	defer p.leave()
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.advance()
	items := []Expr{}
	if p.isPunct("]") {
		p.advance()
		return ListLiteral{Items: items}, nil
	}
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		items = append(items, e)
		if p.isPunct(",") {
			p.advance()
			continue
		}
		if _, err := p.expect([]string{"','", "']'"}, nil); err != nil {
			return nil, err
		}
		return ListLiteral{Items: items}, nil
	}
}

// mapLiteral parses {key: expr, ...}; the entries keep their source order.
func (p *parser) mapLiteral() ([]Property, error) {
	defer p.leave()
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.advance()
	entries := []Property{}
	if p.isPunct("}") {
		p.advance()
		return entries, nil
	}
	seen := make(map[string]bool)
	for {
		key, err := p.name()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect([]string{"':'"}, exprStart); err != nil {
			return nil, err
		}
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		if seen[key] {
			p.semantic(msgDuplicateKey)
		}
		seen[key] = true
		entries = append(entries, Property{Key: key, Value: v})
		if p.isPunct(",") {
			p.advance()
			continue
		}
		if _, err := p.expect([]string{"','", "'}'"}, nil); err != nil {
			return nil, err
		}
		return entries, nil
	}
}

// paren parses (expr); the parentheses leave no trace in the AST.
func (p *parser) paren() (Expr, error) {
	defer p.leave()
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.advance()
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect([]string{"')'"}, nil); err != nil {
		return nil, err
	}
	return e, nil
}
