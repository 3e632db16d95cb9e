package boltwire

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

func TestPreamble(t *testing.T) {
	p := Preamble()
	want := []byte{0x60, 0x60, 0xB0, 0x17, 0, 0, 2, 5, 0, 0, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(p[:], want) {
		t.Fatalf("preamble % x", p)
	}
	if !ValidPreamble(p[:]) || ValidPreamble([]byte("GET ")) || ValidPreamble(nil) {
		t.Error("ValidPreamble")
	}
}

func TestClientHandshake(t *testing.T) {
	for _, answer := range [][4]byte{Version52, {}} {
		a, b := net.Pipe()
		go func() {
			var pre [PreambleLen]byte
			io.ReadFull(b, pre[:])
			b.Write(answer[:])
			b.Close()
		}()
		v, err := ClientHandshake(a, time.Second)
		if answer == Version52 && (err != nil || v != Version52) {
			t.Errorf("got %x, %v", v, err)
		}
		if answer == [4]byte{} && err != ErrNoVersion {
			t.Errorf("zero version: err %v", err)
		}
		a.Close()
	}
}
