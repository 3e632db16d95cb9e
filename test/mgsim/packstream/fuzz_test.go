package packstream

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// fuzzSeeds are valid and invalid encodings covering every marker family.
var fuzzSeeds = []string{
	"C0", "C2", "C3", "00", "7F", "F0", "C8 80", "C9 8000", "CA 80000000", "CB 8000000000000000",
	"C1 7FF8000000000001", "C1 8000000000000000",
	"80", "81 61", "D0 01 61", "D1 0001 61", "D2 00000001 61",
	"CC 00", "CD 0001 FF", "CE 00000001 FF",
	"90", "93 01 02 03", "D4 01 C0", "D5 0001 C0", "D6 00000001 C0",
	"A0", "A1 8161 01", "D8 01 8161 C0", "D9 0001 8161 C0", "DA 00000001 8161 C0",
	"B0 0F", "B3 4E 01 91 81 4C A0", "B4 4E 01 91 81 4C A0 81 31",
	"B3 10 8F 52455455524E2031204153206E2020 A0 A1 82 6462 88 6D656D6772617068",
	"B1 3F A2 816E C8 9C 83 716964 FF",
	"91 91 91 91 91 91 01",
	// malformed
	"", "C4", "DC 01 4E C0", "A1 01 01", "A2 8161 01 8161 02", "01 01", "D6 FFFFFFFF", "B2 4E",
}

// FuzzDecode checks that Decode never panics and that whatever it accepts
// re-encodes canonically: decode(encode(v)) == v and the canonical bytes
// are a fixed point.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(unhex(f, s))
	}
	f.Add(append([]byte{0xD0, 20}, []byte(strings.Repeat("x", 20))...))
	small := Limits{MaxDepth: 4, MaxStringLen: 8, MaxBytesLen: 8, MaxListLen: 8, MaxMapLen: 4, MaxSize: 64}
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = Decode(in, small) // must not panic
		v, err := Decode(in, Limits{})
		if err != nil {
			return
		}
		enc, err := Append(nil, v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v (%#v)", err, v)
		}
		if len(enc) > len(in) {
			t.Fatalf("canonical encoding (%d bytes) longer than input (%d)", len(enc), len(in))
		}
		back, err := Decode(enc, Limits{})
		if err != nil {
			t.Fatalf("canonical encoding does not decode: %v\n% X", err, enc)
		}
		if !Equal(v, back) {
			t.Fatalf("round trip changed the value:\n%#v\n%#v", v, back)
		}
		enc2, err := Append(nil, back)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("canonical encoding is not a fixed point (%v):\n% X\n% X", err, enc, enc2)
		}
	})
}

func TestFuzzSeedsRoundTrip(t *testing.T) {
	// The seeds run as plain tests under go test; this adds NaN, which the
	// fuzz property must treat as equal to itself.
	nan, err := Append(nil, math.NaN())
	if err != nil {
		t.Fatal(err)
	}
	v, err := Decode(nan, Limits{})
	if err != nil || !Equal(v, math.NaN()) {
		t.Fatalf("NaN round trip: %v %v", v, err)
	}
}
