package mgsim

import (
	"fmt"
	"strings"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/bolt"
	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/cypher"
)

// Execution of the data queries of the parser's subset: standalone RETURN,
// CREATE [RETURN], MATCH [WHERE] RETURN and MATCH [WHERE] [DETACH] DELETE.

// rwType is the plan's read/write type (ReadWriteTypeChecker).
type rwType int

const (
	rwNone rwType = iota
	rwRead
	rwWrite
	rwReadWrite
)

// summaryType is the "type" of the PULL summary; NONE is sent as "rw".
func (t rwType) summaryType() string {
	switch t {
	case rwRead:
		return "r"
	case rwWrite:
		return "w"
	}
	return "rw"
}

func (t rwType) writes() bool { return t == rwWrite || t == rwReadWrite }

// nodeValue is a node bound to a variable while a query runs.
type nodeValue struct{ rec *nodeRec }

// queryError is an error Memgraph raises as a QueryException or
// SemanticException: a ClientError.
func queryError(msg string) error {
	return &bolt.Error{Code: bolt.CodeClientError, Message: msg}
}

func queryErrorf(format string, args ...any) error { return queryError(fmt.Sprintf(format, args...)) }

// dataType is the read/write type of a data statement.
func dataType(st cypher.Statement) rwType {
	switch s := st.(type) {
	case cypher.Create:
		return rwWrite // CreateNode (W) + Produce (NONE)
	case cypher.Match:
		if s.Delete {
			return rwReadWrite // ScanAll (R) + Delete (W)
		}
		return rwRead
	}
	return rwNone
}

// checkParams fails like Memgraph when the query uses a parameter the
// client did not send.
func checkParams(st cypher.Statement, params map[string]any) error {
	var missing string
	var walk func(e cypher.Expr)
	walk = func(e cypher.Expr) {
		switch x := e.(type) {
		case cypher.Param:
			if _, ok := params[x.Name]; !ok && missing == "" {
				missing = x.Name
			}
		case cypher.ListLiteral:
			for _, i := range x.Items {
				walk(i)
			}
		case cypher.MapLiteral:
			for _, p := range x.Entries {
				walk(p.Value)
			}
		}
	}
	items := func(its []cypher.ReturnItem) {
		for _, it := range its {
			walk(it.Expr)
		}
	}
	switch s := st.(type) {
	case cypher.Return:
		items(s.Items)
	case cypher.Create:
		for _, p := range s.Props {
			walk(p.Value)
		}
		items(s.Items)
	case cypher.Match:
		if s.Where != nil {
			walk(s.Where.Value)
		}
		items(s.Items)
	}
	if missing != "" {
		return queryErrorf("Parameter $%s not provided.", missing)
	}
	return nil
}

// scope is the variable bound while evaluating one row.
type scope struct {
	name string
	node *nodeRec
}

type evaluator struct{ params map[string]any }

func (ev evaluator) eval(e cypher.Expr, sc scope) (any, error) {
	switch x := e.(type) {
	case cypher.Literal:
		return normalize(x.Value)
	case cypher.Param:
		v, ok := ev.params[x.Name]
		if !ok {
			return nil, queryErrorf("Parameter $%s not provided.", x.Name)
		}
		n, err := normalize(v)
		if err != nil {
			return nil, queryErrorf("Unsupported value of parameter $%s.", x.Name)
		}
		return n, nil
	case cypher.Variable:
		if x.Name != sc.name || sc.node == nil {
			return nil, queryErrorf("Unbound variable: %s.", x.Name)
		}
		return nodeValue{sc.node}, nil
	case cypher.PropertyAccess:
		if x.Var != sc.name || sc.node == nil {
			return nil, queryErrorf("Unbound variable: %s.", x.Var)
		}
		return sc.node.props[x.Key], nil
	case cypher.ListLiteral:
		out := make([]any, len(x.Items))
		for i, it := range x.Items {
			v, err := ev.eval(it, sc)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case cypher.MapLiteral:
		out := make(map[string]any, len(x.Entries))
		for _, p := range x.Entries {
			v, err := ev.eval(p.Value, sc)
			if err != nil {
				return nil, err
			}
			out[p.Key] = v
		}
		return out, nil
	case cypher.Count:
		return nil, queryError("Aggregation functions are only allowed in WITH and RETURN.")
	}
	return nil, queryError("Unsupported expression.")
}

// project evaluates RETURN items over the bound rows, grouping when an
// item is count(...), as Memgraph's Aggregate operator.
func (ev evaluator) project(items []cypher.ReturnItem, rows []scope) ([][]any, error) {
	aggregate := false
	for _, it := range items {
		if _, ok := it.Expr.(cypher.Count); ok {
			aggregate = true
		}
	}
	if !aggregate {
		out := make([][]any, 0, len(rows))
		for _, sc := range rows {
			row := make([]any, len(items))
			for i, it := range items {
				v, err := ev.eval(it.Expr, sc)
				if err != nil {
					return nil, err
				}
				row[i] = toBolt(v)
			}
			out = append(out, row)
		}
		return out, nil
	}
	type group struct {
		row    []any
		counts []int64
	}
	var order []*group
	groups := make(map[string]*group)
	keyed := false
	for _, it := range items {
		if _, ok := it.Expr.(cypher.Count); !ok {
			keyed = true
		}
	}
	for _, sc := range rows {
		vals := make([]any, len(items))
		var key strings.Builder
		for i, it := range items {
			if _, ok := it.Expr.(cypher.Count); ok {
				continue
			}
			v, err := ev.eval(it.Expr, sc)
			if err != nil {
				return nil, err
			}
			vals[i] = v
			groupKey(&key, v)
			key.WriteString("|")
		}
		g := groups[key.String()]
		if g == nil {
			g = &group{row: vals, counts: make([]int64, len(items))}
			groups[key.String()] = g
			order = append(order, g)
		}
		for i, it := range items {
			c, ok := it.Expr.(cypher.Count)
			if !ok {
				continue
			}
			if c.Var == "*" {
				g.counts[i]++
				continue
			}
			v, err := ev.eval(cypher.Variable{Name: c.Var}, sc)
			if err != nil {
				return nil, err
			}
			if v != nil {
				g.counts[i]++
			}
		}
	}
	if len(order) == 0 && !keyed {
		// count over no rows is one row of zeros.
		order = append(order, &group{row: make([]any, len(items)), counts: make([]int64, len(items))})
	}
	out := make([][]any, 0, len(order))
	for _, g := range order {
		row := make([]any, len(items))
		for i, it := range items {
			if _, ok := it.Expr.(cypher.Count); ok {
				row[i] = g.counts[i]
			} else {
				row[i] = toBolt(g.row[i])
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// toBolt converts an evaluated value into what the Bolt server encodes.
func toBolt(v any) any {
	switch x := v.(type) {
	case nodeValue:
		props := make(map[string]any, len(x.rec.props))
		for k, p := range x.rec.props {
			props[k] = p
		}
		return bolt.Node{ID: x.rec.id, Labels: append([]string{}, x.rec.labels...), Props: props}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toBolt(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = toBolt(e)
		}
		return out
	}
	return v
}

// execute runs a data statement in t and returns its rows.
func (ev evaluator) execute(st cypher.Statement, t *txn) ([][]any, error) {
	switch s := st.(type) {
	case cypher.Return:
		return ev.project(s.Items, []scope{{}})
	case cypher.Create:
		props := make(map[string]any, len(s.Props))
		for _, p := range s.Props {
			v, err := ev.eval(p.Value, scope{})
			if err != nil {
				return nil, err
			}
			if v == nil {
				continue // a null property is not stored
			}
			if _, isNode := v.(nodeValue); isNode {
				return nil, queryError("Unsupported property value.")
			}
			props[p.Key] = v
		}
		n := t.create(s.Labels, props)
		if len(s.Items) == 0 {
			return nil, nil
		}
		return ev.project(s.Items, []scope{{name: s.Var, node: n}})
	case cypher.Match:
		var rows []scope
		for _, n := range t.scan(s.Label) {
			sc := scope{name: s.Var, node: n}
			if s.Where != nil {
				want, err := ev.eval(s.Where.Value, sc)
				if err != nil {
					return nil, err
				}
				if eq, ok := cypherEquals(n.props[s.Where.Key], want); !ok || !eq {
					continue
				}
			}
			rows = append(rows, sc)
		}
		if s.Delete {
			for _, sc := range rows {
				if err := t.remove(sc.node); err != nil {
					return nil, &bolt.Error{Code: bolt.CodeTransientError, Message: msgSerializationError}
				}
			}
			return nil, nil
		}
		return ev.project(s.Items, rows)
	}
	return nil, queryError("Unsupported query.")
}
