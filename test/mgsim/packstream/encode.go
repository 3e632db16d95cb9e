package packstream

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
)

// MaxEncodeDepth is the deepest nesting Append encodes; deeper (or cyclic)
// values are refused with ErrUnsupported instead of exhausting the stack.
const MaxEncodeDepth = 512

// Ext converts a value whose type Append does not know into one it does
// (typically a Struct). It returns ok false to leave v unsupported. The
// replacement is encoded as if it had been in place of v, so its own
// elements may again be values that need Ext; the replacement itself must
// not need Ext again.
type Ext func(v any) (replacement any, ok bool)

// Append appends the PackStream encoding of v to dst and returns the
// extended slice. On error the returned slice is dst unchanged in length
// (bytes past len(dst) may have been written).
func Append(dst []byte, v any) ([]byte, error) {
	return AppendExt(dst, v, nil)
}

// AppendExt is Append with an extension for types Append does not know.
// ext may be nil.
func AppendExt(dst []byte, v any, ext Ext) ([]byte, error) {
	e := encoder{ext: ext}
	out, err := e.value(dst, v, 0)
	if err != nil {
		return dst, err
	}
	return out, nil
}

type encoder struct {
	ext Ext
}

func (e *encoder) value(b []byte, v any, depth int) ([]byte, error) {
	if depth > MaxEncodeDepth {
		return b, fmt.Errorf("%w: nesting deeper than %d", ErrUnsupported, MaxEncodeDepth)
	}
	switch x := v.(type) {
	case nil:
		return append(b, markerNull), nil
	case bool:
		if x {
			return append(b, markerTrue), nil
		}
		return append(b, markerFalse), nil
	case int64:
		return AppendInt(b, x), nil
	case int:
		return AppendInt(b, int64(x)), nil
	case int32:
		return AppendInt(b, int64(x)), nil
	case int16:
		return AppendInt(b, int64(x)), nil
	case int8:
		return AppendInt(b, int64(x)), nil
	case uint8:
		return AppendInt(b, int64(x)), nil
	case uint16:
		return AppendInt(b, int64(x)), nil
	case uint32:
		return AppendInt(b, int64(x)), nil
	case uint:
		return appendUint(b, uint64(x))
	case uint64:
		return appendUint(b, x)
	case float64:
		return AppendFloat(b, x), nil
	case float32:
		return AppendFloat(b, float64(x)), nil
	case string:
		return AppendString(b, x)
	case []byte:
		return AppendBytes(b, x)
	case []any:
		b, err := appendHeader(b, len(x), tinyList, markerList8, "list")
		if err != nil {
			return b, err
		}
		for _, el := range x {
			if b, err = e.value(b, el, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	case []string:
		b, err := appendHeader(b, len(x), tinyList, markerList8, "list")
		if err != nil {
			return b, err
		}
		for _, s := range x {
			if b, err = AppendString(b, s); err != nil {
				return b, err
			}
		}
		return b, nil
	case []int64:
		b, err := appendHeader(b, len(x), tinyList, markerList8, "list")
		if err != nil {
			return b, err
		}
		for _, i := range x {
			b = AppendInt(b, i)
		}
		return b, nil
	case []map[string]any:
		b, err := appendHeader(b, len(x), tinyList, markerList8, "list")
		if err != nil {
			return b, err
		}
		for _, m := range x {
			if b, err = e.stringMap(b, m, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	case map[string]any:
		return e.stringMap(b, x, depth)
	case map[string]string:
		b, err := appendHeader(b, len(x), tinyMap, markerMap8, "map")
		if err != nil {
			return b, err
		}
		for _, k := range sortedKeys(x) {
			if b, err = AppendString(b, k); err != nil {
				return b, err
			}
			if b, err = AppendString(b, x[k]); err != nil {
				return b, err
			}
		}
		return b, nil
	case Struct:
		return e.structure(b, x, depth)
	case *Struct:
		if x == nil {
			return append(b, markerNull), nil
		}
		return e.structure(b, *x, depth)
	}
	if e.ext != nil {
		if r, ok := e.ext(v); ok {
			if !knownType(r) {
				return b, fmt.Errorf("%w: extension returned %T for %T", ErrUnsupported, r, v)
			}
			return e.value(b, r, depth)
		}
	}
	return e.reflected(b, v, depth)
}

func knownType(v any) bool {
	switch v.(type) {
	case nil, bool, int64, int, int32, int16, int8, uint8, uint16, uint32, uint, uint64,
		float64, float32, string, []byte, []any, []string, []int64, []map[string]any,
		map[string]any, map[string]string, Struct, *Struct:
		return true
	}
	return false
}

func (e *encoder) stringMap(b []byte, m map[string]any, depth int) ([]byte, error) {
	b, err := appendHeader(b, len(m), tinyMap, markerMap8, "map")
	if err != nil {
		return b, err
	}
	for _, k := range sortedKeys(m) {
		if b, err = AppendString(b, k); err != nil {
			return b, err
		}
		if b, err = e.value(b, m[k], depth+1); err != nil {
			return b, err
		}
	}
	return b, nil
}

func (e *encoder) structure(b []byte, s Struct, depth int) ([]byte, error) {
	if len(s.Fields) > MaxStructFields {
		return b, fmt.Errorf("%w: structure 0x%02X with %d fields (max %d)",
			ErrUnsupported, s.Tag, len(s.Fields), MaxStructFields)
	}
	b = append(b, tinyStruct|byte(len(s.Fields)), s.Tag)
	var err error
	for _, f := range s.Fields {
		if b, err = e.value(b, f, depth+1); err != nil {
			return b, err
		}
	}
	return b, nil
}

// reflected encodes named and composite types by kind: named scalars,
// slices and arrays of anything, maps with string-kinded keys.
func (e *encoder) reflected(b []byte, v any, depth int) ([]byte, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		return e.value(b, rv.Bool(), depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return AppendInt(b, rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return appendUint(b, rv.Uint())
	case reflect.Float32, reflect.Float64:
		return AppendFloat(b, rv.Float()), nil
	case reflect.String:
		return AppendString(b, rv.String())
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			raw := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(raw), rv)
			return AppendBytes(b, raw)
		}
		n := rv.Len()
		b, err := appendHeader(b, n, tinyList, markerList8, "list")
		if err != nil {
			return b, err
		}
		for i := range n {
			if b, err = e.value(b, rv.Index(i).Interface(), depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		keys := rv.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		b, err := appendHeader(b, len(keys), tinyMap, markerMap8, "map")
		if err != nil {
			return b, err
		}
		for _, k := range keys {
			if b, err = AppendString(b, k.String()); err != nil {
				return b, err
			}
			if b, err = e.value(b, rv.MapIndex(k).Interface(), depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	return b, fmt.Errorf("%w: type %T", ErrUnsupported, v)
}

// AppendInt appends i in its smallest PackStream form.
func AppendInt(b []byte, i int64) []byte {
	switch {
	case i >= -16 && i <= math.MaxInt8:
		return append(b, byte(int8(i)))
	case i >= math.MinInt8 && i < -16:
		return append(b, markerInt8, byte(int8(i)))
	case i >= math.MinInt16 && i <= math.MaxInt16:
		return binary.BigEndian.AppendUint16(append(b, markerInt16), uint16(int16(i)))
	case i >= math.MinInt32 && i <= math.MaxInt32:
		return binary.BigEndian.AppendUint32(append(b, markerInt32), uint32(int32(i)))
	default:
		return binary.BigEndian.AppendUint64(append(b, markerInt64), uint64(i))
	}
}

func appendUint(b []byte, u uint64) ([]byte, error) {
	if u > math.MaxInt64 {
		return b, fmt.Errorf("%w: unsigned integer %d overflows int64", ErrUnsupported, u)
	}
	return AppendInt(b, int64(u)), nil
}

// AppendFloat appends f as a 64-bit float.
func AppendFloat(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, markerFloat), math.Float64bits(f))
}

// AppendString appends s with the smallest string marker.
func AppendString(b []byte, s string) ([]byte, error) {
	b, err := appendHeader(b, len(s), tinyString, markerString8, "string")
	if err != nil {
		return b, err
	}
	return append(b, s...), nil
}

// AppendBytes appends p as a byte array (there is no tiny form).
func AppendBytes(b []byte, p []byte) ([]byte, error) {
	n := len(p)
	switch {
	case n <= math.MaxUint8:
		b = append(b, markerBytes8, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, markerBytes16), uint16(n))
	case uint64(n) <= math.MaxUint32:
		b = binary.BigEndian.AppendUint32(append(b, markerBytes32), uint32(n))
	default:
		return b, fmt.Errorf("%w: byte array of %d bytes", ErrUnsupported, n)
	}
	return append(b, p...), nil
}

// AppendStructHeader appends the marker and tag of a structure with n
// fields; the caller appends the n fields.
func AppendStructHeader(b []byte, tag byte, n int) ([]byte, error) {
	if n < 0 || n > MaxStructFields {
		return b, fmt.Errorf("%w: structure 0x%02X with %d fields (max %d)", ErrUnsupported, tag, n, MaxStructFields)
	}
	return append(b, tinyStruct|byte(n), tag), nil
}

// AppendListHeader appends the header of a list with n elements.
func AppendListHeader(b []byte, n int) ([]byte, error) {
	return appendHeader(b, n, tinyList, markerList8, "list")
}

// AppendMapHeader appends the header of a map with n entries; the caller
// appends n key/value pairs with string keys.
func AppendMapHeader(b []byte, n int) ([]byte, error) {
	return appendHeader(b, n, tinyMap, markerMap8, "map")
}

// appendHeader writes the size header shared by strings, lists and maps:
// tiny form below 16, then 8/16/32-bit forms at marker8, marker8+1, marker8+2.
func appendHeader(b []byte, n int, tiny, marker8 byte, what string) ([]byte, error) {
	switch {
	case n < 0:
		return b, fmt.Errorf("%w: negative %s length", ErrUnsupported, what)
	case n < 16:
		return append(b, tiny|byte(n)), nil
	case n <= math.MaxUint8:
		return append(b, marker8, byte(n)), nil
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, marker8+1), uint16(n)), nil
	case uint64(n) <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, marker8+2), uint32(n)), nil
	}
	return b, fmt.Errorf("%w: %s of length %d", ErrUnsupported, what, n)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
