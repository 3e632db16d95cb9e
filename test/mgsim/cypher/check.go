package cypher

import "fmt"

// check runs the symbol checks Memgraph's semantic analysis makes before
// planning, in the order it makes them: the pattern binds its variable, then
// WHERE, then the RETURN items (expressions first, then column names) or the
// DELETE target. At most one variable is ever bound in the subset; bound is
// "" when none is.
func (p *parser) check(st Statement) error {
	switch s := st.(type) {
	case Return:
		return checkItems(s.Items, "")
	case Create:
		// Memgraph binds the new node's variable before its property map;
		// the emulator does not (see Deviations), so CREATE (n {k: n.x})
		// reports n unbound.
		for _, pr := range s.Props {
			if err := checkExpr(pr.Value, "", false); err != nil {
				return err
			}
		}
		return checkItems(s.Items, s.Var)
	case Match:
		if w := s.Where; w != nil {
			if w.Var != s.Var {
				return unbound(w.Var)
			}
			if err := checkExpr(w.Value, s.Var, false); err != nil {
				return err
			}
		}
		if s.Delete {
			if p.deleteVar != s.Var {
				return unbound(p.deleteVar)
			}
			return nil
		}
		return checkItems(s.Items, s.Var)
	}
	return nil
}

func unbound(name string) error {
	return &SemanticError{Message: fmt.Sprintf(msgUnboundFormat, name)}
}

// checkItems checks each item's expression, then that no two columns share
// a name.
func checkItems(items []ReturnItem, bound string) error {
	for _, it := range items {
		if err := checkExpr(it.Expr, bound, true); err != nil {
			return err
		}
	}
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		if seen[it.Name] {
			return &SemanticError{Message: fmt.Sprintf(msgDupColumnFmt, it.Name)}
		}
		seen[it.Name] = true
	}
	return nil
}

// checkExpr reports the first variable of e that is not bound, or an
// aggregation where aggregations are not allowed (aggOK false).
func checkExpr(e Expr, bound string, aggOK bool) error {
	switch e := e.(type) {
	case Variable:
		if e.Name != bound {
			return unbound(e.Name)
		}
	case PropertyAccess:
		if e.Var != bound {
			return unbound(e.Var)
		}
	case Count:
		if !aggOK {
			return &SemanticError{Message: msgAggregation}
		}
		if e.Var != "*" && e.Var != bound {
			return unbound(e.Var)
		}
	case ListLiteral:
		for _, x := range e.Items {
			if err := checkExpr(x, bound, aggOK); err != nil {
				return err
			}
		}
	case MapLiteral:
		for _, x := range e.Entries {
			if err := checkExpr(x.Value, bound, aggOK); err != nil {
				return err
			}
		}
	}
	return nil
}
