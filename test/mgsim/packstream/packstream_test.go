package packstream

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func repeat(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func listOf(n int) []any {
	l := make([]any, n)
	for i := range l {
		l[i] = int64(1)
	}
	return l
}

func mapOf(n int) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[string(rune('a'+i%26))+strings.Repeat("x", i/26)] = int64(i % 100)
	}
	return m
}

// TestEncodeScalars pins exact bytes for scalars at every size boundary.
func TestEncodeScalars(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"null", nil, "C0"},
		{"true", true, "C3"},
		{"false", false, "C2"},
		{"zero", int64(0), "00"},
		{"tiny max", int64(127), "7F"},
		{"tiny min", int64(-16), "F0"},
		{"int8 below tiny", int64(-17), "C8 EF"},
		{"int8 min", int64(-128), "C8 80"},
		{"int16 above tiny", int64(128), "C9 0080"},
		{"int16 below int8", int64(-129), "C9 FF7F"},
		{"int16 max", int64(math.MaxInt16), "C9 7FFF"},
		{"int16 min", int64(math.MinInt16), "C9 8000"},
		{"int32 above int16", int64(math.MaxInt16 + 1), "CA 00008000"},
		{"int32 below int16", int64(math.MinInt16 - 1), "CA FFFF7FFF"},
		{"int32 max", int64(math.MaxInt32), "CA 7FFFFFFF"},
		{"int32 min", int64(math.MinInt32), "CA 80000000"},
		{"int64 above int32", int64(math.MaxInt32 + 1), "CB 0000000080000000"},
		{"int64 below int32", int64(math.MinInt32 - 1), "CB FFFFFFFF7FFFFFFF"},
		{"int64 max", int64(math.MaxInt64), "CB 7FFFFFFFFFFFFFFF"},
		{"int64 min", int64(math.MinInt64), "CB 8000000000000000"},
		{"go int", 1, "01"},
		{"int8", int8(-1), "FF"},
		{"int16", int16(300), "C9 012C"},
		{"int32", int32(-40000), "CA FFFF63C0"},
		{"uint8", uint8(200), "C9 00C8"},
		{"uint16", uint16(65535), "CA 0000FFFF"},
		{"uint32", uint32(math.MaxUint32), "CB 00000000FFFFFFFF"},
		{"uint", uint(5), "05"},
		{"uint64 max int64", uint64(math.MaxInt64), "CB 7FFFFFFFFFFFFFFF"},
		{"float", 1.1, "C1 3FF199999999999A"},
		{"float32", float32(0.5), "C1 3FE0000000000000"},
		{"float negative zero", math.Copysign(0, -1), "C1 8000000000000000"},
		{"empty string", "", "80"},
		{"tiny string", "a", "81 61"},
		{"utf8 string", "é", "82 C3A9"},
		{"empty bytes", []byte{}, "CC 00"},
		{"nil bytes", []byte(nil), "CC 00"},
		{"bytes", []byte{1, 2}, "CC 02 0102"},
		{"empty list", []any{}, "90"},
		{"nil list", []any(nil), "90"},
		{"empty map", map[string]any{}, "A0"},
		{"nil map", map[string]any(nil), "A0"},
		{"map sorted keys", map[string]any{"b": int64(2), "a": int64(1)}, "A2 8161 01 8162 02"},
		{"struct", Struct{Tag: 0x4E, Fields: []any{int64(1), []any{"L"}, map[string]any{}}}, "B3 4E 01 91 81 4C A0"},
		{"struct pointer", &Struct{Tag: 0x0F}, "B0 0F"},
		{"nil struct pointer", (*Struct)(nil), "C0"},
		{"string slice", []string{"a", "b"}, "92 8161 8162"},
		{"int64 slice", []int64{1, 300}, "92 01 C9012C"},
		{"map slice", []map[string]any{{"a": nil}}, "91 A1 8161 C0"},
		{"string map", map[string]string{"k": "v"}, "A1 816B 8176"},
		{"nested", []any{[]any{map[string]any{"x": []any{}}}}, "91 91 A1 8178 90"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Append(nil, tc.v)
			if err != nil {
				t.Fatalf("Append(%#v): %v", tc.v, err)
			}
			if want := unhex(t, tc.want); !bytes.Equal(got, want) {
				t.Fatalf("Append(%#v) = % X, want % X", tc.v, got, want)
			}
		})
	}
}

// TestEncodeSizes checks size markers at the tiny/8/16/32 boundaries.
func TestEncodeSizes(t *testing.T) {
	tests := []struct {
		name   string
		v      any
		header string
	}{
		{"string 15", strings.Repeat("a", 15), "8F"},
		{"string 16", strings.Repeat("a", 16), "D0 10"},
		{"string 255", strings.Repeat("a", 255), "D0 FF"},
		{"string 256", strings.Repeat("a", 256), "D1 0100"},
		{"string 65535", strings.Repeat("a", 65535), "D1 FFFF"},
		{"string 65536", strings.Repeat("a", 65536), "D2 00010000"},
		{"bytes 255", repeat(7, 255), "CC FF"},
		{"bytes 256", repeat(7, 256), "CD 0100"},
		{"bytes 65535", repeat(7, 65535), "CD FFFF"},
		{"bytes 65536", repeat(7, 65536), "CE 00010000"},
		{"list 15", listOf(15), "9F"},
		{"list 16", listOf(16), "D4 10"},
		{"list 255", listOf(255), "D4 FF"},
		{"list 256", listOf(256), "D5 0100"},
		{"list 65536", listOf(65536), "D6 00010000"},
		{"map 15", mapOf(15), "AF"},
		{"map 16", mapOf(16), "D8 10"},
		{"map 256", mapOf(256), "D9 0100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Append(nil, tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if h := unhex(t, tc.header); !bytes.HasPrefix(got, h) {
				t.Fatalf("header % X, want % X", got[:min(len(got), 6)], h)
			}
			back, err := Decode(got, Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !Equal(back, canonical(tc.v)) {
				t.Fatal("round trip changed the value")
			}
		})
	}
}

// canonical converts the convenience types accepted by Append to the
// decoded value model.
func canonical(v any) any {
	switch x := v.(type) {
	case []string:
		l := make([]any, len(x))
		for i, s := range x {
			l[i] = s
		}
		return l
	}
	return v
}

func TestEncodeErrors(t *testing.T) {
	cyclic := []any{nil}
	cyclic[0] = cyclic
	tests := []struct {
		name string
		v    any
	}{
		{"uint64 overflow", uint64(math.MaxUint64)},
		{"uint overflow", uint(math.MaxUint64)},
		{"too many struct fields", Struct{Tag: 1, Fields: make([]any, 16)}},
		{"go struct", struct{ A int }{1}},
		{"int map", map[int]any{1: 1}},
		{"channel", make(chan int)},
		{"func", func() {}},
		{"pointer", new(int)},
		{"nested unsupported", []any{1, map[string]any{"x": struct{}{}}}},
		{"cyclic", cyclic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte{0xAA}
			got, err := Append(dst, tc.v)
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("err = %v, want ErrUnsupported", err)
			}
			if len(got) != 1 {
				t.Fatalf("dst grew to %d bytes on error", len(got))
			}
		})
	}
}

type role string
type point struct{ X, Y int64 }

func TestEncodeReflectionAndExt(t *testing.T) {
	ext := func(v any) (any, bool) {
		if p, ok := v.(point); ok {
			return Struct{Tag: 'X', Fields: []any{p.X, p.Y}}, true
		}
		if _, ok := v.(chan int); ok {
			return make(chan int), true // not a known type: must be refused
		}
		return nil, false
	}
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"named string", role("main"), "84 6D61696E"},
		{"int32 slice", []int32{1, 2}, "92 01 02"},
		{"array", [2]bool{true, false}, "92 C3 C2"},
		{"named bytes", blob("ab"), "CC 02 6162"},
		{"int map", map[string]int{"a": 1}, "A1 8161 01"},
		{"ext top", point{1, 2}, "B2 58 01 02"},
		{"ext nested", map[string]any{"p": []any{point{3, 4}}}, "A1 8170 91 B2 58 03 04"},
		{"ext inside struct", Struct{Tag: 1, Fields: []any{point{5, 6}}}, "B1 01 B2 58 05 06"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppendExt(nil, tc.v, ext)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tc.want); !bytes.Equal(got, want) {
				t.Fatalf("got % X, want % X", got, want)
			}
		})
	}
	if _, err := AppendExt(nil, make(chan int), ext); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("ext returning unknown type: err = %v", err)
	}
	if _, err := Append(nil, point{}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("no ext: err = %v", err)
	}
}

type blob []byte

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"null", "C0", nil},
		{"tiny -1", "FF", int64(-1)},
		{"tiny -16", "F0", int64(-16)},
		{"non-minimal int8", "C8 01", int64(1)},
		{"non-minimal int16", "C9 0001", int64(1)},
		{"non-minimal int32", "CA FFFFFFFF", int64(-1)},
		{"non-minimal int64", "CB 0000000000000002", int64(2)},
		{"int64 min", "CB 8000000000000000", int64(math.MinInt64)},
		{"float", "C1 3FF0000000000000", 1.0},
		{"non-minimal string8", "D0 01 61", "a"},
		{"non-minimal string16", "D1 0001 61", "a"},
		{"non-minimal string32", "D2 00000001 61", "a"},
		{"empty string8", "D0 00", ""},
		{"bytes16", "CD 0001 FF", []byte{0xFF}},
		{"bytes32 empty", "CE 00000000", []byte{}},
		{"non-minimal list8", "D4 01 01", []any{int64(1)}},
		{"list32", "D6 00000000", []any{}},
		{"non-minimal map8", "D8 00", map[string]any{}},
		{"map16 with string8 key", "D9 0001 D0 01 6B 01", map[string]any{"k": int64(1)}},
		{"struct no fields", "B0 0F", Struct{Tag: 0x0F, Fields: []any{}}},
		{"struct 15 fields", "BF 01" + strings.Repeat("C0", 15), Struct{Tag: 1, Fields: make([]any, 15)}},
		{"hello", "B1 01 A1 8A 757365725F6167656E74 81 78",
			Struct{Tag: 1, Fields: []any{map[string]any{"user_agent": "x"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(unhex(t, tc.in), Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !Equal(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestDecodeNoAliasing(t *testing.T) {
	in := unhex(t, "92 CC 02 0102 82 6162")
	v, err := Decode(in, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 0
	}
	if !Equal(v, []any{[]byte{1, 2}, "ab"}) {
		t.Fatalf("decoded value changed with its input: %#v", v)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  Limits
		want error
	}{
		{"empty", "", Limits{}, ErrTruncated},
		{"reserved C4", "C4", Limits{}, ErrMalformed},
		{"reserved CF", "CF", Limits{}, ErrMalformed},
		{"reserved D3", "D3", Limits{}, ErrMalformed},
		{"reserved DF", "DF", Limits{}, ErrMalformed},
		{"reserved E5", "E5", Limits{}, ErrMalformed},
		{"legacy struct8", "DC 01 4E C0", Limits{}, ErrMalformed},
		{"legacy struct16", "DD 0001 4E C0", Limits{}, ErrMalformed},
		{"int key", "A1 01 01", Limits{}, ErrMalformed},
		{"null key", "A1 C0 01", Limits{}, ErrMalformed},
		{"duplicate key", "A2 8161 01 8161 02", Limits{}, ErrMalformed},
		{"trailing bytes", "01 01", Limits{}, ErrMalformed},
		{"truncated float", "C1 00", Limits{}, ErrTruncated},
		{"truncated int16", "C9 00", Limits{}, ErrTruncated},
		{"truncated int64", "CB 0000", Limits{}, ErrTruncated},
		{"truncated string", "D0 05 61", Limits{}, ErrTruncated},
		{"truncated tiny string", "83 61", Limits{}, ErrTruncated},
		{"truncated string16 size", "D1 00", Limits{}, ErrTruncated},
		{"truncated bytes", "CC 02 01", Limits{}, ErrTruncated},
		{"truncated list", "92 01", Limits{}, ErrTruncated},
		{"huge list16", "D5 FFFF 01", Limits{}, ErrTruncated},
		{"huge list32", "D6 FFFFFFFF", Limits{}, ErrLimit},
		{"huge string32", "D2 7FFFFFFF", Limits{}, ErrLimit},
		{"huge map32", "DA 00100000 8161", Limits{}, ErrTruncated},
		{"truncated map value", "A1 8161", Limits{}, ErrTruncated},
		{"struct no tag", "B1", Limits{}, ErrTruncated},
		{"struct missing field", "B2 4E 01", Limits{}, ErrTruncated},
		{"bad nested", "91 91 C7", Limits{}, ErrMalformed},
		{"depth", "91 91 91 01", Limits{MaxDepth: 2}, ErrLimit},
		{"depth map", "A1 8161 A1 8161 A0", Limits{MaxDepth: 2}, ErrLimit},
		{"depth struct", "B1 01 B1 01 B0 01", Limits{MaxDepth: 2}, ErrLimit},
		{"default depth", strings.Repeat("91", 65) + "01", Limits{}, ErrLimit},
		{"string length", "84 61626364", Limits{MaxStringLen: 3}, ErrLimit},
		{"key length", "A1 84 61626364 01", Limits{MaxStringLen: 3}, ErrLimit},
		{"bytes length", "CC 04 01020304", Limits{MaxBytesLen: 3}, ErrLimit},
		{"list length", "94 01010101", Limits{MaxListLen: 3}, ErrLimit},
		{"map length", "A2 8161 01 8162 02", Limits{MaxMapLen: 1}, ErrLimit},
		{"size", "84 61626364", Limits{MaxSize: 4}, ErrLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Decode(unhex(t, tc.in), tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %#v, %v; want %v", v, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "packstream: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestDecodeWithinLimits(t *testing.T) {
	lim := Limits{MaxDepth: 2, MaxStringLen: 4, MaxBytesLen: 4, MaxListLen: 4, MaxMapLen: 2, MaxSize: 32}
	for _, in := range []string{
		"91 91 01",
		"A1 8161 91 01",
		"84 61626364",
		"CC 04 01020304",
		"94 01010101",
		"A2 8161 01 8162 02",
	} {
		if _, err := Decode(unhex(t, in), lim); err != nil {
			t.Errorf("Decode(%s): %v", in, err)
		}
	}
}

func TestLimitsWithDefaults(t *testing.T) {
	got := Limits{MaxDepth: 3, MaxListLen: -1}.WithDefaults()
	want := Limits{MaxDepth: 3, MaxStringLen: DefaultMaxStringLen, MaxBytesLen: DefaultMaxBytesLen,
		MaxListLen: DefaultMaxListLen, MaxMapLen: DefaultMaxMapLen, MaxSize: DefaultMaxSize}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestHeaderHelpers(t *testing.T) {
	b, err := AppendStructHeader(nil, 0x70, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b, err = AppendMapHeader(b, 1); err != nil {
		t.Fatal(err)
	}
	if b, err = AppendString(b, "fields"); err != nil {
		t.Fatal(err)
	}
	if b, err = AppendListHeader(b, 16); err != nil {
		t.Fatal(err)
	}
	for range 16 {
		b = AppendInt(b, 1)
	}
	v, err := Decode(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := Struct{Tag: 0x70, Fields: []any{map[string]any{"fields": listOf(16)}}}
	if !Equal(v, want) {
		t.Fatalf("got %#v", v)
	}
	if _, err := AppendStructHeader(nil, 1, 16); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("16-field header: %v", err)
	}
	if _, err := AppendListHeader(nil, -1); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("negative list header: %v", err)
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b any
		want bool
	}{
		{nil, nil, true},
		{nil, false, false},
		{int64(1), 1, false}, // only the decoded model compares
		{math.NaN(), math.NaN(), true},
		{0.0, math.Copysign(0, -1), false},
		{[]byte(nil), []byte{}, true},
		{[]any{int64(1)}, []any{int64(1), int64(2)}, false},
		{map[string]any{"a": nil}, map[string]any{"b": nil}, false},
		{Struct{Tag: 1}, Struct{Tag: 1, Fields: []any{}}, true},
		{Struct{Tag: 1}, Struct{Tag: 2}, false},
	}
	for i, tc := range tests {
		if got := Equal(tc.a, tc.b); got != tc.want {
			t.Errorf("%d: Equal(%#v, %#v) = %v", i, tc.a, tc.b, got)
		}
	}
}
