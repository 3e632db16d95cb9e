package bolt

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
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

// readAll reads messages until an error and returns them with that error.
func readAll(in []byte, max int) ([][]byte, error) {
	mr := NewMessageReader(bufio.NewReader(bytes.NewReader(in)), max)
	var out [][]byte
	for {
		m, err := mr.ReadMessage()
		if err != nil {
			return out, err
		}
		out = append(out, append([]byte(nil), m...))
	}
}

func TestReadMessage(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string // hex of each message
		err  error    // error after the messages
	}{
		{"empty stream", "", 0, nil, io.EOF},
		{"one chunk", "0002 B00F 0000", 0, []string{"B00F"}, io.EOF},
		{"two chunks", "0001 B0 0001 0F 0000", 0, []string{"B00F"}, io.EOF},
		{"pipelined", "0002 B00F 0000 0002 B002 0000", 0, []string{"B00F", "B002"}, io.EOF},
		{"noops skipped", "0000 0000 0002 B00F 0000 0000 0002 B002 0000 0000", 0, []string{"B00F", "B002"}, io.EOF},
		{"only noops", "0000 0000", 0, nil, io.EOF},
		{"eof in header", "00", 0, nil, io.ErrUnexpectedEOF},
		{"eof in chunk", "0004 B0", 0, nil, io.ErrUnexpectedEOF},
		{"eof before end marker", "0002 B00F", 0, nil, io.ErrUnexpectedEOF},
		{"eof in end marker", "0002 B00F 00", 0, nil, io.ErrUnexpectedEOF},
		{"at max", "0004 01020304 0000", 4, []string{"01020304"}, io.EOF},
		{"over max in one chunk", "0005 0102030405 0000", 4, nil, ErrMessageTooLarge},
		{"over max across chunks", "0003 010203 0002 0405 0000", 4, nil, ErrMessageTooLarge},
		{"max resets per message", "0003 010203 0000 0003 040506 0000", 4, []string{"010203", "040506"}, io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(unhex(t, tc.in), tc.max)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d messages, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if w := unhex(t, tc.want[i]); !bytes.Equal(got[i], w) {
					t.Fatalf("message %d = % X, want % X", i, got[i], w)
				}
			}
		})
	}
}

func TestAppendMessageChunking(t *testing.T) {
	tests := []struct {
		size   int
		chunks []int
	}{
		{0, nil},
		{1, []int{1}},
		{MaxChunkSize, []int{MaxChunkSize}},
		{MaxChunkSize + 1, []int{MaxChunkSize, 1}},
		{2*MaxChunkSize + 7, []int{MaxChunkSize, MaxChunkSize, 7}},
	}
	for _, tc := range tests {
		msg := bytes.Repeat([]byte{0xAB}, tc.size)
		enc := AppendMessage([]byte{0xEE}, msg)
		if enc[0] != 0xEE {
			t.Fatal("dst prefix lost")
		}
		var buf bytes.Buffer
		if err := WriteMessage(&buf, msg); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), enc[1:]) {
			t.Fatalf("size %d: WriteMessage and AppendMessage differ", tc.size)
		}
		// Walk the chunk headers.
		rest := enc[1:]
		for i, n := range tc.chunks {
			if got := int(rest[0])<<8 | int(rest[1]); got != n {
				t.Fatalf("size %d: chunk %d has %d bytes, want %d", tc.size, i, got, n)
			}
			rest = rest[2+n:]
		}
		if !bytes.Equal(rest, []byte{0, 0}) {
			t.Fatalf("size %d: trailer % X", tc.size, rest)
		}
		if tc.size == 0 {
			continue
		}
		got, err := readAll(enc[1:], 3*MaxChunkSize)
		if !errors.Is(err, io.EOF) || len(got) != 1 || !bytes.Equal(got[0], msg) {
			t.Fatalf("size %d: read back %d messages, err %v", tc.size, len(got), err)
		}
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after == 0 {
		return 0, errors.New("boom")
	}
	w.after--
	return len(p), nil
}

func TestWriteMessageErrors(t *testing.T) {
	for after := 0; after < 3; after++ {
		if err := WriteMessage(&failWriter{after: after}, []byte{1}); err == nil {
			t.Fatalf("write failing after %d writes: no error", after)
		}
	}
}

// FuzzReadMessage checks that the de-chunker never panics, never returns
// a message over the limit or an empty one, and that re-chunking what it
// returns reads back identically.
func FuzzReadMessage(f *testing.F) {
	for _, s := range []string{
		"", "0000", "0002 B00F 0000", "0001 B0 0001 0F 0000", "0000 0002 B00F 0000 0000",
		"0002 B00F 0000 0003 B1 10 C0 0000", "FFFF 00", "0005 0102030405 0000", "00",
		"0010 000102030405060708090A0B0C0D0E0F 0000",
	} {
		f.Add(unhex(f, s))
	}
	const max = 16
	f.Fuzz(func(t *testing.T, in []byte) {
		msgs, _ := readAll(in, max)
		var again []byte
		for _, m := range msgs {
			if len(m) == 0 || len(m) > max {
				t.Fatalf("message of %d bytes", len(m))
			}
			again = AppendMessage(again, m)
		}
		back, err := readAll(again, max)
		if !errors.Is(err, io.EOF) || len(back) != len(msgs) {
			t.Fatalf("re-read %d of %d messages: %v", len(back), len(msgs), err)
		}
		for i := range back {
			if !bytes.Equal(back[i], msgs[i]) {
				t.Fatalf("message %d changed", i)
			}
		}
	})
}
