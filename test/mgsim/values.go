package mgsim

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Values. The engine stores and returns the Bolt value model: nil, bool,
// int64, float64, string, []any and map[string]any, nested. Stored values
// are immutable once committed: nobody writes into a slice or map reachable
// from a node.

// maxValueDepth bounds the nesting of values the engine accepts from the
// network and from disk.
const maxValueDepth = 64

var errValueDepth = errors.New("mgsim: value nested too deeply")

// normalize converts a parameter or literal into the stored value model.
func normalize(v any) (any, error) { return normalizeDepth(v, 0) }

func normalizeDepth(v any, depth int) (any, error) {
	if depth > maxValueDepth {
		return nil, errValueDepth
	}
	switch x := v.(type) {
	case nil, bool, int64, float64, string:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case float32:
		return float64(x), nil
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, nil
	case []int64:
		out := make([]any, len(x))
		for i, n := range x {
			out[i] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalizeDepth(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalizeDepth(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("mgsim: unsupported value of type %T", v)
}

// cypherEquals is the = operator: ok is false when the result is null
// (either side null), which a WHERE treats as false.
func cypherEquals(a, b any) (eq, ok bool) {
	if a == nil || b == nil {
		return false, false
	}
	switch x := a.(type) {
	case bool:
		y, isBool := b.(bool)
		return isBool && x == y, true
	case string:
		y, isStr := b.(string)
		return isStr && x == y, true
	case int64, float64:
		switch y := b.(type) {
		case int64:
			if xi, isInt := x.(int64); isInt {
				return xi == y, true
			}
			return x.(float64) == float64(y), true
		case float64:
			if xi, isInt := x.(int64); isInt {
				return float64(xi) == y, true
			}
			return x.(float64) == y, true
		}
		return false, true
	case []any:
		y, isList := b.([]any)
		if !isList || len(x) != len(y) {
			return false, true
		}
		unknown := false
		for i := range x {
			eq, ok := cypherEquals(x[i], y[i])
			if ok && !eq {
				return false, true
			}
			if !ok {
				unknown = true
			}
		}
		return !unknown, !unknown
	case map[string]any:
		y, isMap := b.(map[string]any)
		if !isMap || len(x) != len(y) {
			return false, true
		}
		unknown := false
		for k, xv := range x {
			yv, has := y[k]
			if !has {
				return false, true
			}
			eq, ok := cypherEquals(xv, yv)
			if ok && !eq {
				return false, true
			}
			if !ok {
				unknown = true
			}
		}
		return !unknown, !unknown
	}
	return false, true
}

// groupKey renders a value canonically, for grouping rows by value.
func groupKey(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("N")
	case bool:
		b.WriteString("B" + strconv.FormatBool(x))
	case int64:
		b.WriteString("I" + strconv.FormatInt(x, 10))
	case float64:
		// 1 = 1.0 in Cypher, so integral floats group with integers.
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			b.WriteString("I" + strconv.FormatInt(int64(x), 10))
		} else {
			b.WriteString("F" + strconv.FormatFloat(x, 'g', -1, 64))
		}
	case string:
		b.WriteString("S" + strconv.Quote(x))
	case []any:
		b.WriteString("L[")
		for _, e := range x {
			groupKey(b, e)
			b.WriteString(",")
		}
		b.WriteString("]")
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("M{")
		for _, k := range keys {
			b.WriteString(strconv.Quote(k) + ":")
			groupKey(b, x[k])
			b.WriteString(",")
		}
		b.WriteString("}")
	case nodeValue:
		b.WriteString("V" + strconv.FormatInt(x.rec.id, 10))
	default:
		fmt.Fprintf(b, "?%v", x)
	}
}

// wireValue is a value as written to the replication wire and to disk:
// typed, so integers stay integers and floats keep every bit.
type wireValue struct {
	T string               `json:"t"`
	B bool                 `json:"b,omitempty"`
	I int64                `json:"i,omitempty"`
	F uint64               `json:"f,omitempty"`
	S string               `json:"s,omitempty"`
	L []wireValue          `json:"l,omitempty"`
	M map[string]wireValue `json:"m,omitempty"`
}

func toWire(v any) wireValue {
	switch x := v.(type) {
	case nil:
		return wireValue{T: "n"}
	case bool:
		return wireValue{T: "b", B: x}
	case int64:
		return wireValue{T: "i", I: x}
	case float64:
		return wireValue{T: "f", F: math.Float64bits(x)}
	case string:
		return wireValue{T: "s", S: x}
	case []any:
		l := make([]wireValue, len(x))
		for i, e := range x {
			l[i] = toWire(e)
		}
		return wireValue{T: "l", L: l}
	case map[string]any:
		m := make(map[string]wireValue, len(x))
		for k, e := range x {
			m[k] = toWire(e)
		}
		return wireValue{T: "m", M: m}
	}
	panic(fmt.Sprintf("mgsim: toWire of unsupported %T", v))
}

func fromWire(w wireValue) (any, error) { return fromWireDepth(w, 0) }

func fromWireDepth(w wireValue, depth int) (any, error) {
	if depth > maxValueDepth {
		return nil, errValueDepth
	}
	switch w.T {
	case "n":
		return nil, nil
	case "b":
		return w.B, nil
	case "i":
		return w.I, nil
	case "f":
		return math.Float64frombits(w.F), nil
	case "s":
		return w.S, nil
	case "l":
		out := make([]any, len(w.L))
		for i, e := range w.L {
			v, err := fromWireDepth(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case "m":
		out := make(map[string]any, len(w.M))
		for k, e := range w.M {
			v, err := fromWireDepth(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("mgsim: unknown value type %q", w.T)
}

func propsToWire(p map[string]any) map[string]wireValue {
	if len(p) == 0 {
		return nil
	}
	out := make(map[string]wireValue, len(p))
	for k, v := range p {
		out[k] = toWire(v)
	}
	return out
}

func propsFromWire(p map[string]wireValue) (map[string]any, error) {
	out := make(map[string]any, len(p))
	for k, w := range p {
		v, err := fromWire(w)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}
