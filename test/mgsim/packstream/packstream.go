// Package packstream encodes and decodes PackStream v1, the value format of
// the Bolt protocol, for the mgsim Memgraph emulator.
//
// Value model. Decode produces, and Append accepts, these Go values:
//
//	PackStream     Go (decoded)              also accepted by Append
//	null           nil
//	boolean        bool
//	integer        int64                     int, int8..int32, uint, uint8..uint64 (≤ MaxInt64)
//	float          float64                   float32
//	string         string
//	bytes          []byte
//	list           []any                     []string, []int64, []map[string]any, any slice or array (reflection)
//	dictionary     map[string]any            map[string]string, any map with string keys (reflection)
//	structure      Struct                    *Struct
//
// Types Append does not know are handed to an Ext function, if one is given
// (the bolt package uses it to encode graph nodes per protocol version).
//
// Invariants:
//
//   - Append always writes integers in their smallest form and chooses the
//     smallest size marker for strings, bytes, lists and maps.
//   - Decode never panics and never allocates more than a bounded multiple of
//     its input: every declared length is checked against both the Limits and
//     the bytes that remain before anything is allocated.
//   - Decode accepts non-minimal encodings (an int8 marker holding 1 is a
//     valid 1), so decode(encode(decode(b))) == decode(b) but encode(decode(b))
//     need not equal b.
//   - Decoded strings and byte slices never alias the input.
//   - Map keys must be strings and unique; a duplicate key is malformed input.
//   - Strings are not checked for UTF-8 validity (neither does Memgraph).
//   - Structures hold at most 15 fields (markers B0..BF). The legacy large
//     structure markers DC and DD are rejected as malformed: no Bolt message or
//     value type that Memgraph or the Go driver uses needs them.
//
// Errors are wrapped with %w around the sentinels below, so callers test them
// with errors.Is.
package packstream

import (
	"bytes"
	"errors"
	"fmt"
	"math"
)

// Struct is a PackStream structure: a tag byte and up to 15 fields. Bolt
// messages are structures (for example tag 0x10 is RUN) and so are graph
// values (tag 0x4E is a node).
type Struct struct {
	Tag    byte
	Fields []any
}

// MaxStructFields is the largest number of fields a structure may have.
const MaxStructFields = 15

// Sentinel errors. Every error returned by this package wraps one of them.
var (
	// ErrTruncated means the input ended inside a value.
	ErrTruncated = errors.New("packstream: truncated input")
	// ErrMalformed means the input is not valid PackStream: unknown or
	// reserved marker, non-string or duplicate map key, trailing bytes.
	ErrMalformed = errors.New("packstream: malformed input")
	// ErrLimit means the input is valid PackStream but exceeds a Limit.
	ErrLimit = errors.New("packstream: limit exceeded")
	// ErrUnsupported means Append was given a value it cannot encode.
	ErrUnsupported = errors.New("packstream: unsupported value")
)

// Limits bound what Decode accepts. A zero or negative field means the
// default given in its comment.
type Limits struct {
	// MaxDepth is the deepest nesting of lists, maps and structures; a
	// scalar at top level has depth 0, the elements of a top-level list
	// depth 1. Default 64.
	MaxDepth int
	// MaxStringLen is the largest string in bytes. Default 16 MiB.
	MaxStringLen int
	// MaxBytesLen is the largest byte array. Default 16 MiB.
	MaxBytesLen int
	// MaxListLen is the largest number of list elements. Default 1 Mi.
	MaxListLen int
	// MaxMapLen is the largest number of map entries. Default 1 Mi.
	MaxMapLen int
	// MaxSize is the largest input Decode accepts, in bytes. Default 16 MiB.
	MaxSize int
}

// Default limit values, applied to zero or negative Limits fields.
const (
	DefaultMaxDepth     = 64
	DefaultMaxStringLen = 16 << 20
	DefaultMaxBytesLen  = 16 << 20
	DefaultMaxListLen   = 1 << 20
	DefaultMaxMapLen    = 1 << 20
	DefaultMaxSize      = 16 << 20
)

// WithDefaults returns l with every zero or negative field set to its default.
func (l Limits) WithDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxDepth, DefaultMaxDepth)
	def(&l.MaxStringLen, DefaultMaxStringLen)
	def(&l.MaxBytesLen, DefaultMaxBytesLen)
	def(&l.MaxListLen, DefaultMaxListLen)
	def(&l.MaxMapLen, DefaultMaxMapLen)
	def(&l.MaxSize, DefaultMaxSize)
	return l
}

// Markers (first byte of every value).
const (
	markerNull     = 0xC0
	markerFloat    = 0xC1
	markerFalse    = 0xC2
	markerTrue     = 0xC3
	markerInt8     = 0xC8
	markerInt16    = 0xC9
	markerInt32    = 0xCA
	markerInt64    = 0xCB
	markerBytes8   = 0xCC
	markerBytes16  = 0xCD
	markerBytes32  = 0xCE
	markerString8  = 0xD0
	markerString16 = 0xD1
	markerString32 = 0xD2
	markerList8    = 0xD4
	markerList16   = 0xD5
	markerList32   = 0xD6
	markerMap8     = 0xD8
	markerMap16    = 0xD9
	markerMap32    = 0xDA
	markerStruct8  = 0xDC // legacy, rejected
	markerStruct16 = 0xDD // legacy, rejected

	tinyString = 0x80
	tinyList   = 0x90
	tinyMap    = 0xA0
	tinyStruct = 0xB0
)

func limitErr(what string, n, max int) error {
	return fmt.Errorf("%w: %s %d > %d", ErrLimit, what, n, max)
}

// Equal reports whether two values of the decoded value model are equal.
// Floats compare by their bits, so NaN equals itself and 0 differs from -0;
// nil and empty byte slices, lists and maps are equal to each other.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !Equal(v, w) {
				return false
			}
		}
		return true
	case Struct:
		y, ok := b.(Struct)
		return ok && x.Tag == y.Tag && Equal(x.Fields, y.Fields)
	}
	return false
}
