package cypher

import (
	"fmt"
	"strconv"
	"strings"
)

// format prints st as a query that Parse turns back into st. Names are
// always backtick-escaped and every RETURN item is aliased, so the printed
// form does not depend on keywords or on source text.
func format(st Statement) string {
	switch s := st.(type) {
	case ShowReplicationRole:
		return "SHOW REPLICATION ROLE"
	case SetReplicationRole:
		switch {
		case s.ToMain:
			return "SET REPLICATION ROLE TO MAIN"
		case s.Port != nil:
			return fmt.Sprintf("SET REPLICATION ROLE TO REPLICA WITH PORT %d", *s.Port)
		}
		return "SET REPLICATION ROLE TO REPLICA"
	case RegisterReplica:
		return "REGISTER REPLICA " + formatName(s.Name) + " " + s.Mode + " TO " + formatString(s.Address)
	case DropReplica:
		return "DROP REPLICA " + formatName(s.Name)
	case ShowReplicas:
		return "SHOW REPLICAS"
	case ShowStorageInfo:
		if s.OnCurrentDatabase {
			return "SHOW STORAGE INFO ON CURRENT DATABASE"
		}
		return "SHOW STORAGE INFO"
	case Return:
		return "RETURN " + formatItems(s.Items)
	case Create:
		var b strings.Builder
		b.WriteString("CREATE (")
		if s.Var != "" {
			b.WriteString(formatName(s.Var))
		}
		for _, l := range s.Labels {
			b.WriteString(":" + formatName(l))
		}
		if len(s.Props) > 0 {
			b.WriteString(" " + formatMap(s.Props))
		}
		b.WriteString(")")
		if len(s.Items) > 0 {
			b.WriteString(" RETURN " + formatItems(s.Items))
		}
		return b.String()
	case Match:
		var b strings.Builder
		b.WriteString("MATCH (" + formatName(s.Var))
		if s.Label != "" {
			b.WriteString(":" + formatName(s.Label))
		}
		b.WriteString(")")
		if w := s.Where; w != nil {
			b.WriteString(" WHERE " + formatName(w.Var) + "." + formatName(w.Key) + " = " + formatExpr(w.Value))
		}
		switch {
		case s.Detach:
			b.WriteString(" DETACH DELETE " + formatName(s.Var))
		case s.Delete:
			b.WriteString(" DELETE " + formatName(s.Var))
		default:
			b.WriteString(" RETURN " + formatItems(s.Items))
		}
		return b.String()
	}
	panic(fmt.Sprintf("format: unknown statement %T", st))
}

func formatItems(items []ReturnItem) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = formatExpr(it.Expr) + " AS " + formatName(it.Name)
	}
	return strings.Join(parts, ", ")
}

func formatExpr(e Expr) string {
	switch e := e.(type) {
	case Literal:
		switch v := e.Value.(type) {
		case nil:
			return "null"
		case bool:
			return strconv.FormatBool(v)
		case int64:
			return strconv.FormatInt(v, 10)
		case float64:
			return strconv.FormatFloat(v, 'e', -1, 64)
		case string:
			return formatString(v)
		}
		panic(fmt.Sprintf("format: literal of type %T", e.Value))
	case Param:
		return "$" + formatName(e.Name)
	case Variable:
		return formatName(e.Name)
	case PropertyAccess:
		return formatName(e.Var) + "." + formatName(e.Key)
	case Count:
		if e.Var == "*" {
			return "count(*)"
		}
		return "count(" + formatName(e.Var) + ")"
	case ListLiteral:
		parts := make([]string, len(e.Items))
		for i, x := range e.Items {
			parts[i] = formatExpr(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case MapLiteral:
		return formatMap(e.Entries)
	}
	panic(fmt.Sprintf("format: unknown expression %T", e))
}

func formatMap(entries []Property) string {
	parts := make([]string, len(entries))
	for i, p := range entries {
		parts[i] = formatName(p.Key) + ": " + formatExpr(p.Value)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func formatName(n string) string { return "`" + strings.ReplaceAll(n, "`", "``") + "`" }

func formatString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
